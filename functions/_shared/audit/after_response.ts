/**
 * Work that must not delay the response: audit and error-log writes.
 *
 * On Supabase Edge Functions `EdgeRuntime.waitUntil(promise)` keeps the isolate alive until the
 * promise settles, after the response has been sent. Elsewhere (local gateway, tests, plain
 * Deno) the promise simply runs on ("fire and forget"). Either way a failure is logged, never
 * thrown: losing an audit row must not turn into a failed request.
 */
import type { Logger } from "../log/logger.ts";

interface EdgeRuntimeLike {
  waitUntil(promise: Promise<unknown>): void;
}

/** Supabase's EdgeRuntime global, when this code runs there. */
export function edgeRuntime(): EdgeRuntimeLike | undefined {
  const candidate = (globalThis as { EdgeRuntime?: Partial<EdgeRuntimeLike> }).EdgeRuntime;
  return typeof candidate?.waitUntil === "function" ? candidate as EdgeRuntimeLike : undefined;
}

const pending = new Set<Promise<void>>();

/**
 * Runs `task` after the response: registered with EdgeRuntime.waitUntil where it exists,
 * otherwise left running. Errors go to `log` (redacted by the logger) as `what failed`.
 */
export function runAfterResponse(
  task: () => Promise<unknown>,
  log: Pick<Logger, "error">,
  what = "after-response task failed",
): void {
  const settled: Promise<void> = Promise.resolve()
    .then(task)
    .then(() => {}, (error: unknown) => log.error(what, { error }))
    .finally(() => pending.delete(settled));
  pending.add(settled);
  edgeRuntime()?.waitUntil(settled);
}

/** Resolves once every task started so far has settled (tests, graceful shutdown). */
export async function flushAfterResponse(): Promise<void> {
  while (pending.size > 0) await Promise.all([...pending]);
}
