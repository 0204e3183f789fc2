import assert from "node:assert/strict";
import { ApiError } from "../../../functions/_shared/http/errors.ts";
import { generateJobToken, parseJobCredentials } from "../../../functions/_shared/jobs/mod.ts";

const ID = "7d444840-9dc0-11d1-b245-5ffdce74fad2";

async function reject(headers: Record<string, string>, field: string) {
  await assert.rejects(() => parseJobCredentials(new Headers(headers)), (err) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, "VALIDATION_FAILED");
    const text = JSON.stringify(err.details);
    assert.ok(text.includes(field), text);
    if (headers["x-job-token"]) assert.equal(text.includes(headers["x-job-token"]), false);
    return true;
  });
}

Deno.test("parseJobCredentials: null without headers; id + token hash when both are valid", async () => {
  assert.equal(await parseJobCredentials(new Headers()), null);
  const { token, hash } = await generateJobToken();
  const creds = await parseJobCredentials(
    new Headers({ "X-Job-Id": ID.toUpperCase(), "X-Job-Token": token }),
  );
  assert.deepEqual(creds, { jobId: ID, tokenHash: hash });
});

Deno.test("parseJobCredentials: one header alone, a bad id or a bad token is 400", async () => {
  const { token } = await generateJobToken();
  await reject({ "x-job-id": ID }, "x-job-token");
  await reject({ "x-job-token": token }, "x-job-id");
  await reject({ "x-job-id": "not-a-uuid", "x-job-token": token }, "x-job-id");
  await reject({ "x-job-id": ID, "x-job-token": token.slice(1) }, "x-job-token");
  await reject({ "x-job-id": ID, "x-job-token": token + "=" }, "x-job-token");
});
