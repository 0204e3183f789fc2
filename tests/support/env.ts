/**
 * What `tests/run.ts` hands the deno tests: where the stack is and how to reach its database.
 * A missing variable fails loudly — these tests never silently skip.
 */
export function testEnv(name: string): string {
  const value = Deno.env.get(name);
  if (!value) {
    throw new Error(
      `${name} is not set: run the suites with \`deno task test\`, which starts the stack`,
    );
  }
  return value;
}

/** URL of a function route through the local gateway, e.g. fnUrl("jobs", "/jobs/abc"). */
export function fnUrl(path: string): string {
  return `${testEnv("TEST_BASE_URL")}/functions/v1${path.startsWith("/") ? path : `/${path}`}`;
}
