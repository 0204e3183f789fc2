import assert from "node:assert/strict";
import { costCredits, estimateTokens, promptTokenBound } from "../../../functions/ai/pricing.ts";
import { StreamMeter } from "../../../functions/ai/stream/meter.ts";

// gpt-4o-mini as seeded: 1 per request, 0.3 / 1.2 per 1K tokens → micro-credits per token.
const MINI = { requestMicro: 1_000_000, inputMicro: 300, outputMicro: 1_200 };

Deno.test("costCredits rounds the total up once, like credits.ai_cost", () => {
  assert.equal(costCredits(MINI, 100, 4096), 6); // ceil(1 + 0.03 + 4.9152)
  assert.equal(costCredits({ requestMicro: 2_000_000, inputMicro: 0, outputMicro: 0 }, 0, 0), 2);
  assert.equal(costCredits({ requestMicro: 0, inputMicro: 1, outputMicro: 0 }, 1, 0), 1);
  assert.equal(
    costCredits({ requestMicro: 0, inputMicro: 1_000, outputMicro: 1_000 }, -5, 1_000),
    1,
  );
  // Exact multiples stay exact (no float drift): 3 × 0.1 credits per token × 10 tokens = 3.
  assert.equal(costCredits({ requestMicro: 0, inputMicro: 100_000, outputMicro: 0 }, 30, 0), 3);
});

Deno.test("promptTokenBound counts UTF-8 bytes plus the chat overhead", () => {
  assert.equal(promptTokenBound(["hello"]), 5 + 4 + 3);
  assert.equal(promptTokenBound(["é", "日本"]), 2 + 6 + 8 + 3);
  assert.ok(promptTokenBound(["x".repeat(400)]) >= estimateTokens(400));
});

Deno.test("estimateTokens is one per four characters, rounded up", () => {
  assert.equal(estimateTokens(0), 0);
  assert.equal(estimateTokens(1), 1);
  assert.equal(estimateTokens(8), 2);
  assert.equal(estimateTokens(9), 3);
});

Deno.test("StreamMeter admits output while the cost fits the reservation, then refuses", () => {
  // 2 per request + 1 per prompt token + 2 per output token; prompt 3 tokens; reserved 25.
  const meter = new StreamMeter({ requestMicro: 2e6, inputMicro: 1e6, outputMicro: 2e6 }, 25, 3);
  assert.equal(meter.admit(""), 0, "empty deltas cost nothing");
  let admitted = 0;
  while (meter.admit(" fox") !== null) admitted++;
  assert.equal(admitted, 10, "2 + 3 + 2t ≤ 25 → t = 10");
  assert.equal(meter.tokens, 10);
  assert.equal(meter.cost, 25);
  assert.equal(meter.admit(" one"), null, "stays refused");
});

Deno.test("StreamMeter counts the larger of chunks and characters/4", () => {
  const meter = new StreamMeter({ requestMicro: 0, inputMicro: 0, outputMicro: 1e6 }, 1_000, 0);
  assert.equal(meter.admit("a"), 1); // one chunk
  assert.equal(meter.admit("b"), 1); // two chunks, 2 chars
  assert.equal(meter.admit("x".repeat(38)), 8); // 40 chars → 10 tokens > 3 chunks
  assert.equal(meter.tokens, 10);
  const tight = new StreamMeter({ requestMicro: 0, inputMicro: 0, outputMicro: 1e6 }, 3, 0);
  assert.equal(tight.admit("x".repeat(16)), null, "a 4-token chunk does not fit 3 credits");
  assert.equal(tight.tokens, 0, "a refused chunk is not counted");
});
