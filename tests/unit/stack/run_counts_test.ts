import assert from "node:assert/strict";
import { countDeno, countTap } from "../../run.ts";

Deno.test("countTap counts ok and not ok lines across files", () => {
  const out = "a.sql ..\nok 1 - x\nok 2 - y\nnot ok 3 - z\nb.sql ..\n    ok 1 - w\n";
  assert.deepEqual(countTap(out, false), { passed: 3, failed: 1 });
});

Deno.test("countTap counts a file that crashed without TAP as a failure", () => {
  assert.deepEqual(countTap("a.sql .. Dubious, test returned 1\n", false), {
    passed: 0,
    failed: 1,
  });
});

Deno.test("countDeno reads the final summary, steps excluded", () => {
  const out =
    "ok | 3 passed (2 steps) | 0 failed (1s)\n...\nFAILED | 40 passed (5 steps) | 2 failed (9s)\n";
  assert.deepEqual(countDeno(out, false), { passed: 40, failed: 2 });
});

Deno.test("countDeno treats a run without a summary (type error) as failed", () => {
  assert.deepEqual(countDeno("error: Type checking failed.", false), { passed: 0, failed: 1 });
});

Deno.test("countDeno ignores terminal colours", () => {
  const out = "\x1b[32mok\x1b[0m | 4 passed | 0 failed \x1b[38;5;245m(7ms)\x1b[0m";
  assert.deepEqual(countDeno(out, true), { passed: 4, failed: 0 });
});
