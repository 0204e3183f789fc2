/**
 * The ai function's rules through the shared gateway: validation bounds and allowed models,
 * paying by job (every 401 reason, 402 before the upstream), one-shot 402, Idempotency-Key
 * (replay, 409 while running, 422 on reuse, streams not replayable), kill switches and the
 * per-account rate limit with its headers. Balances are checked in SQL.
 */
import assert from "node:assert/strict";
import { generateJobToken } from "../../functions/_shared/jobs/token.ts";
import { newUser } from "../support/auth.ts";
import { testEnv } from "../support/env.ts";
import {
  balanceOf,
  chatModel,
  fundedUser,
  generationsOf,
  imageModel,
  type Job,
  jobOf,
  post,
  speechModel,
  startJob,
  type User,
} from "./ai_helpers.ts";
import { withAdmin } from "../support/db.ts";

const model = await chatModel("rules", {
  perRequest: 2,
  per1kInput: 1000,
  per1kOutput: 2000,
  maxTokens: 50,
});
const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: "user", content }],
  ...extra,
});

async function upstreamRequests(): Promise<number> {
  const res = await fetch(`${testEnv("TEST_FAKE_UPSTREAM_URL")}/__control/stats`);
  return (await res.json()).total;
}

function errorOf(json: Record<string, unknown> | null) {
  return json?.error as { code: string; message: string; details?: Record<string, unknown> };
}

Deno.test("ai rules: bodies are validated with bounds before anything is charged", async () => {
  const user = await fundedUser(1000);
  const voice = await speechModel("rules-voice", 1, 100);
  const picture = await imageModel("rules-picture", 10, 2);
  const cases: [string, unknown, string][] = [
    ["/chat/completions", { model, messages: [] }, "messages"],
    ["/chat/completions", { ...chat("hi"), tools: [] }, "tools"],
    ["/chat/completions", { ...chat("hi"), n: 2 }, "n"],
    ["/chat/completions", { ...chat("hi"), max_tokens: 0 }, "max_tokens"],
    ["/chat/completions", { model, messages: [{ role: "tool", content: "x" }] }, "messages.0.role"],
    [
      "/chat/completions",
      { model, messages: Array(101).fill({ role: "user", content: "x" }) },
      "messages",
    ],
    [
      "/chat/completions",
      { model, messages: [{ role: "user", content: "x".repeat(32_001) }] },
      "messages.0.content",
    ],
    [
      "/chat/completions",
      { ...chat("hi"), stream_options: { include_usage: true } },
      "stream_options",
    ],
    ["/audio/speech", { model: voice, voice: "alloy", input: "x".repeat(4097) }, "input"],
    ["/audio/speech", { model: voice, voice: "alloy", input: "" }, "input"],
    ["/images/generations", { model: picture, prompt: "fox", size: "5000x5000" }, "size"],
    ["/images/generations", { model: picture, prompt: "fox", n: 5 }, "n"],
  ];
  for (const [path, body, field] of cases) {
    const { res, json } = await post(user, path, body);
    assert.equal(res.status, 400, `${path} ${field}`);
    const error = errorOf(json);
    assert.equal(error.code, "VALIDATION_FAILED");
    const fields = (error.details?.fields as { path: string }[]).map((f) => f.path);
    assert.ok(fields.some((f) => f.startsWith(field)), `${field} in ${fields}`);
  }
  // Per-model bounds, checked with the prices in SQL.
  const perModel: [string, unknown, string][] = [
    ["/chat/completions", { ...chat("hi"), max_tokens: 51 }, "max_tokens_above_cap"],
    ["/audio/speech", { model: voice, voice: "onyx", input: "hello" }, "voice_not_allowed"],
    ["/images/generations", { model: picture, prompt: "fox", n: 3 }, "too_many_images"],
    [
      "/images/generations",
      { model: picture, prompt: "fox", quality: "hd" },
      "size_quality_not_allowed",
    ],
  ];
  for (const [path, body, reason] of perModel) {
    const { res, json } = await post(user, path, body);
    assert.equal(res.status, 400, reason);
    assert.equal(errorOf(json).details?.reason, reason);
  }
  assert.deepEqual(await balanceOf(user), { balance: 1000, held: 0, available: 1000 });
});

Deno.test("ai rules: a model without a price is 400 MODEL_NOT_ALLOWED", async () => {
  const user = await fundedUser(100);
  for (
    const [path, body] of [
      ["/chat/completions", {
        model: "gpt-5-unpriced",
        messages: [{ role: "user", content: "hi" }],
      }],
      ["/audio/speech", { model: "gpt-4o-mini", voice: "alloy", input: "hi" }],
      ["/images/generations", { model: "tts-1", prompt: "hi" }],
    ] as const
  ) {
    const { res, json } = await post(user, path, body);
    assert.equal(res.status, 400);
    assert.equal(errorOf(json).code, "MODEL_NOT_ALLOWED");
  }
  const gens = await generationsOf(user);
  assert.deepEqual(gens.map((g) => [g.status, g.error_code]), [
    ["refused", "MODEL_NOT_ALLOWED"],
    ["refused", "MODEL_NOT_ALLOWED"],
    ["refused", "MODEL_NOT_ALLOWED"],
  ]);
});

Deno.test("ai rules: every job check fails with 401 and a reason saying which", async () => {
  const user = await fundedUser(1000);
  const other = await fundedUser(1000);
  const job = await startJob(user, 200);
  const bound = await startJob(user, 200, { device: "phone-1" });
  const othersJob = await startJob(other, 200);
  const expired = await startJob(user, 100);
  await withAdmin((sql) =>
    sql`update credits.jobs set expires_at = created_at + interval '1 millisecond' where id = ${expired.jobId}::uuid`
  );
  const committed = await startJob(user, 100);
  await withAdmin((sql) =>
    sql`select * from api.commit_job(${user.id}::uuid, ${committed.jobId}::uuid, 0)`
  );
  const wrongToken: Job = { jobId: job.jobId, token: (await generateJobToken()).token };

  const cases: [Job, Record<string, string>, string][] = [
    [othersJob, {}, "job_not_found"],
    [{ jobId: crypto.randomUUID(), token: job.token }, {}, "job_not_found"],
    [wrongToken, {}, "job_token_invalid"],
    [bound, {}, "job_device_mismatch"],
    [bound, { "x-device-id": "phone-2" }, "job_device_mismatch"],
    [expired, {}, "job_expired"],
    [committed, {}, "job_not_pending"],
  ];
  const before = await upstreamRequests();
  for (const [j, headers, reason] of cases) {
    const { res, json } = await post(user, "/chat/completions", chat("WORDS:2"), {
      job: j,
      headers,
    });
    assert.equal(res.status, 401, reason);
    assert.equal(errorOf(json).code, "UNAUTHORIZED");
    assert.equal(errorOf(json).details?.reason, reason);
    assert.match(res.headers.get("www-authenticate") ?? "", new RegExp(reason));
  }
  assert.equal(await upstreamRequests(), before, "no upstream call for a refused job");
  // The bound job works from its device.
  const ok = await post(user, "/chat/completions", chat("WORDS:2"), {
    job: bound,
    headers: { "x-device-id": "phone-1" },
  });
  assert.equal(ok.res.status, 200);
  // Malformed job headers are a 400, one without the other too.
  const half = await post(user, "/chat/completions", chat("hi"), {
    headers: { "x-job-id": job.jobId },
  });
  assert.equal(half.res.status, 400);
  assert.deepEqual((await jobOf(job)).spent, 0);
});

Deno.test("ai rules: a call that could exceed the job's hold is 402 before the upstream", async () => {
  const user = await fundedUser(1000);
  const job = await startJob(user, 60);
  const before = await upstreamRequests();
  // Reservation = 2 + (7 + 7) + 2·50 = 116 > 60.
  const { res, json } = await post(user, "/chat/completions", chat("WORDS:2"), { job });
  assert.equal(res.status, 402);
  assert.equal(errorOf(json).code, "INSUFFICIENT_CREDITS");
  assert.deepEqual(errorOf(json).details, { remaining: 60, required: 116 });
  assert.equal(await upstreamRequests(), before);
  assert.deepEqual(await jobOf(job), { amount: 60, spent: 0, status: "pending" });
  // A smaller max_tokens fits: 2 + 14 + 2·20 = 56.
  const fits = await post(user, "/chat/completions", chat("WORDS:2", { max_tokens: 20 }), { job });
  assert.equal(fits.res.status, 200);
  // A stream only needs its minimum (2 + 14 + 2) to start; it is then metered.
  const job2 = await startJob(user, 17);
  const tooSmall = await post(user, "/chat/completions", chat("WORDS:2", { stream: true }), {
    job: job2,
  });
  assert.equal(tooSmall.res.status, 402);
});

Deno.test("ai rules: one-shot calls reserve the maximum atomically; 402 changes nothing", async () => {
  const user = await fundedUser(100);
  const { res, json } = await post(user, "/chat/completions", chat("WORDS:2"));
  assert.equal(res.status, 402);
  assert.deepEqual(errorOf(json).details, { available: 100, required: 116 });
  assert.deepEqual(await balanceOf(user), { balance: 100, held: 0, available: 100 });
  const ok = await post(user, "/chat/completions", chat("WORDS:2", { max_tokens: 10 }));
  assert.equal(ok.res.status, 200);
  // prompt "WORDS:2" = 2 tokens, 2 words: 2 + 2 + 4 = 8.
  assert.equal((await balanceOf(user)).balance, 92);
});

Deno.test("ai rules: a brand-new user's first call creates the account with the initial grant", async () => {
  const cheap = await chatModel("cheap", {
    perRequest: 1,
    per1kInput: 0,
    per1kOutput: 0,
    maxTokens: 5,
  });
  const user = await newUser();
  const { res } = await post(user, "/chat/completions", {
    model: cheap,
    messages: [{ role: "user", content: "WORDS:1" }],
  });
  assert.equal(res.status, 200);
  const grant = Number(Deno.env.get("INITIAL_GRANT") ?? "3");
  assert.deepEqual(await balanceOf(user), { balance: grant - 1, held: 0, available: grant - 1 });
});

Deno.test("ai rules: Idempotency-Key replays a finished answer, 409 while running, 422 on reuse", async () => {
  const user = await fundedUser(1000);
  const key = crypto.randomUUID();
  const body = chat("FAULT:slow_first_byte:400 WORDS:3");
  const first = post(user, "/chat/completions", body, { headers: { "idempotency-key": key } });
  await new Promise((r) => setTimeout(r, 150));
  const running = await post(user, "/chat/completions", body, {
    headers: { "idempotency-key": key },
  });
  assert.equal(running.res.status, 409);
  assert.equal(errorOf(running.json).code, "IDEMPOTENCY_KEY_IN_USE");
  const done = await first;
  assert.equal(done.res.status, 200);
  const replay = await post(user, "/chat/completions", body, {
    headers: { "idempotency-key": key },
  });
  assert.equal(replay.res.status, 200);
  assert.equal(replay.res.headers.get("idempotent-replayed"), "true");
  assert.deepEqual(replay.json, done.json);
  const reuse = await post(user, "/chat/completions", chat("other"), {
    headers: { "idempotency-key": key },
  });
  assert.equal(reuse.res.status, 422);
  assert.equal(errorOf(reuse.json).code, "IDEMPOTENCY_KEY_REUSED");
  const gens = await generationsOf(user);
  assert.equal(gens.length, 1, "one call, one record");
  assert.equal((await balanceOf(user)).balance, 1000 - gens[0].credits_charged!);

  // A finished stream is never re-run: its repeat is 409 CONFLICT (not replayable).
  const streamKey = crypto.randomUUID();
  const streamBody = chat("WORDS:2", { stream: true });
  const streamed = await post(user, "/chat/completions", streamBody, {
    headers: { "idempotency-key": streamKey },
  });
  assert.equal(streamed.res.status, 200);
  const again = await post(user, "/chat/completions", streamBody, {
    headers: { "idempotency-key": streamKey },
  });
  assert.equal(again.res.status, 409);
  assert.equal(errorOf(again.json).details?.reason, "not_replayable");
  assert.equal((await generationsOf(user)).length, 2);
});

Deno.test("ai rules: kill switches answer 503 MAINTENANCE and charge nothing", async () => {
  const user = await fundedUser(500);
  const picture = await imageModel("switched", 10);
  await withAdmin((sql) =>
    sql`update ops.feature_flags set enabled = false where name = 'ai.images'`
  );
  try {
    const { res, json } = await post(user, "/images/generations", {
      model: picture,
      prompt: "fox",
    });
    assert.equal(res.status, 503);
    assert.equal(errorOf(json).code, "MAINTENANCE");
    assert.ok(Number(res.headers.get("retry-after")) >= 1);
    // Other families are unaffected.
    assert.equal(
      (await post(user, "/chat/completions", chat("WORDS:1", { max_tokens: 5 }))).res.status,
      200,
    );
  } finally {
    await withAdmin((sql) =>
      sql`update ops.feature_flags set enabled = true where name = 'ai.images'`
    );
  }
  const ok = await post(user, "/images/generations", { model: picture, prompt: "fox" });
  assert.equal(ok.res.status, 200);
  assert.equal((await balanceOf(user)).balance, 500 - 6 - 10);
});

Deno.test("ai rules: images are limited to 10 per minute per account, with RateLimit headers", async () => {
  const user = await fundedUser(500);
  const picture = await imageModel("limited", 1);
  for (let i = 1; i <= 10; i++) {
    const { res } = await post(user, "/images/generations", { model: picture, prompt: "fox" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("ratelimit-policy"), '"images";q=10;w=60');
    assert.match(res.headers.get("ratelimit") ?? "", new RegExp(`^"images";r=${10 - i};t=\\d+$`));
  }
  const { res, json } = await post(user, "/images/generations", { model: picture, prompt: "fox" });
  assert.equal(res.status, 429);
  assert.equal(errorOf(json).code, "RATE_LIMITED");
  assert.ok(Number(res.headers.get("retry-after")) >= 1);
  assert.match(res.headers.get("ratelimit") ?? "", /^"images";r=0;/);
  assert.equal((await balanceOf(user)).balance, 490);
  // Another account has its own budget.
  const other: User = await fundedUser(10);
  assert.equal(
    (await post(other, "/images/generations", { model: picture, prompt: "fox" })).res.status,
    200,
  );
});

Deno.test("ai rules: no token, no call", async () => {
  const res = await fetch(`${testEnv("TEST_BASE_URL")}/functions/v1/ai/v1/models`);
  assert.equal(res.status, 401);
  await res.body?.cancel();
});
