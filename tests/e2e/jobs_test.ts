/**
 * jobs function end to end through the gateway (issue 4): every route, status and error code,
 * checked against the real database (TEST_ADMIN_DB_URL) where the HTTP answer is not enough.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { newUser } from "../support/auth.ts";
import { fnUrl, testEnv } from "../support/env.ts";
import { fundedThroughApi, INITIAL_GRANT, type TestUser } from "../support/accounts.ts";
import { withAdmin } from "../support/db.ts";
import { callFn } from "../support/http.ts";

const MAX_JOB_AMOUNT = Number(Deno.env.get("MAX_JOB_AMOUNT") ?? "10000");
const TTL_MIN = Number(Deno.env.get("JOB_TTL_MIN_SECONDS") ?? "30");
const TTL_MAX = Number(Deno.env.get("JOB_TTL_MAX_SECONDS") ?? "3600");
const TTL_DEFAULT = Number(Deno.env.get("JOB_TTL_DEFAULT_SECONDS") ?? "900");

type User = TestUser;

/** A call to a function with `body` serialised as JSON. */
const call = (
  method: string,
  path: string,
  user: User | null,
  body?: unknown,
  headers: Record<string, string> = {},
) =>
  callFn(
    method,
    path,
    { ...(user?.headers ?? {}), ...headers },
    body === undefined ? undefined : JSON.stringify(body),
  );

const start = (user: User, body: unknown, headers?: Record<string, string>) =>
  call("POST", "/jobs", user, body, headers);

async function balance(user: User) {
  return (await call("GET", "/credits/balance", user)).body;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

function base64UrlBytes(token: string): Uint8Array<ArrayBuffer> {
  const b64 = token.replace(/-/g, "+").replace(/_/g, "/") + "=";
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** Makes a pending job's expiry lie in the past (created_at + 1 ms), as the clock would. */
async function expire(jobId: string): Promise<void> {
  await withAdmin((sql) =>
    sql`update credits.jobs set expires_at = created_at + interval '1 millisecond' where id = ${jobId}::uuid`
  );
  await new Promise((r) => setTimeout(r, 5));
}

Deno.test("jobs: POST /jobs holds credits and returns 201 {jobId, jobToken, amount, expiresAt, available}", async () => {
  const user = await fundedThroughApi(10);
  const before = Date.now();
  const { status, body, res } = await start(user, { amount: 4 });
  assert.equal(status, 201);
  assert.deepEqual(Object.keys(body).sort(), [
    "amount",
    "available",
    "expiresAt",
    "jobId",
    "jobToken",
  ]);
  assert.match(body.jobId, /^[0-9a-f-]{36}$/);
  assert.match(body.jobToken, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(body.amount, 4);
  assert.equal(body.available, 6);
  const ttl = (Date.parse(body.expiresAt) - before) / 1000;
  assert.ok(Math.abs(ttl - TTL_DEFAULT) < 5, `default ttl ${TTL_DEFAULT}s, got ${ttl}`);
  assert.equal(res.headers.get("idempotent-replayed"), null);
  assert.deepEqual(await balance(user), { balance: 10, held: 4, available: 6 });
});

Deno.test("jobs: only the SHA-256 of the token is stored, bound to the account", async () => {
  const user = await fundedThroughApi(5);
  const { body } = await start(user, { amount: 1 });
  const [row] = await withAdmin((sql) =>
    sql`select encode(token_hash, 'hex') as hash, account_id::text as account, device_id
          from credits.jobs where id = ${body.jobId}::uuid`
  );
  assert.equal(row.hash, await sha256(base64UrlBytes(body.jobToken)));
  assert.equal(row.account, user.id);
  assert.equal(row.device_id, null);
  const dump = await withAdmin((sql) =>
    sql`select count(*)::int as n from credits.jobs j
         where j.account_id = ${user.id}::uuid and row_to_json(j)::text like ${
      "%" + body.jobToken + "%"
    }`
  );
  assert.equal(dump[0].n, 0, "the token itself appears nowhere in the row");
});

Deno.test("jobs: a first POST /jobs creates the account with INITIAL_GRANT", async () => {
  const user = await newUser();
  const { status, body } = await start(user, { amount: 1 });
  assert.equal(status, 201);
  assert.equal(body.available, INITIAL_GRANT - 1);
});

Deno.test("jobs: start validation is 400 VALIDATION_FAILED (amount, ttl, unknown fields, JSON)", async () => {
  const user = await fundedThroughApi(5);
  const bad: unknown[] = [
    {},
    { amount: 0 },
    { amount: -1 },
    { amount: 1.5 },
    { amount: "1" },
    { amount: MAX_JOB_AMOUNT + 1 },
    { amount: 1, ttlSeconds: TTL_MIN - 1 },
    { amount: 1, ttlSeconds: TTL_MAX + 1 },
    { amount: 1, ttlSeconds: 60.5 },
    { amount: 1, extra: true },
  ];
  for (const body of bad) {
    const r = await start(user, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.error.code, "VALIDATION_FAILED");
  }
  const notJson = await fetch(fnUrl("/jobs"), {
    method: "POST",
    headers: { ...user.headers, "content-type": "text/plain" },
    body: "amount=1",
  });
  assert.equal(notJson.status, 415);
  await notJson.body?.cancel();
  assert.deepEqual(await balance(user), { balance: 5, held: 0, available: 5 }, "nothing held");
});

Deno.test("jobs: ttlSeconds within bounds sets the expiry", async () => {
  const user = await fundedThroughApi(5);
  const before = Date.now();
  const { status, body } = await start(user, { amount: 1, ttlSeconds: TTL_MIN });
  assert.equal(status, 201);
  const ttl = (Date.parse(body.expiresAt) - before) / 1000;
  assert.ok(Math.abs(ttl - TTL_MIN) < 5);
});

Deno.test("jobs: more than available is 402 INSUFFICIENT_CREDITS and holds nothing", async () => {
  const user = await fundedThroughApi(5);
  assert.equal((await start(user, { amount: 3 })).status, 201);
  const r = await start(user, { amount: 3 });
  assert.equal(r.status, 402);
  assert.equal(r.body.error.code, "INSUFFICIENT_CREDITS");
  assert.deepEqual(await balance(user), { balance: 5, held: 3, available: 2 });
});

Deno.test("jobs: GET /jobs/:id reads the job; another account's job is 404 JOB_NOT_FOUND", async () => {
  const user = await fundedThroughApi(5);
  const other = await fundedThroughApi(5);
  const { body: job } = await start(user, { amount: 2 });
  const r = await call("GET", `/jobs/${job.jobId}`, user);
  assert.equal(r.status, 200);
  assert.equal(r.body.jobId, job.jobId);
  assert.equal(r.body.status, "pending");
  assert.equal(r.body.amount, 2);
  assert.equal(r.body.spent, 0);
  assert.equal(r.body.remaining, 2);
  assert.equal(r.body.debited, null);
  assert.equal(r.body.expiresAt, job.expiresAt);
  assert.equal(r.body.settledAt, null);
  assert.equal(r.body.deviceBound, false);
  assert.equal("jobToken" in r.body, false, "the token is never shown again");

  const foreign = await call("GET", `/jobs/${job.jobId}`, other);
  assert.equal(foreign.status, 404);
  assert.equal(foreign.body.error.code, "JOB_NOT_FOUND");
  const missing = await call("GET", `/jobs/${crypto.randomUUID()}`, user);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, "JOB_NOT_FOUND");
  assert.deepEqual(Object.keys(foreign.body.error).sort(), Object.keys(missing.body.error).sort());
  const malformed = await call("GET", "/jobs/not-a-uuid", user);
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error.code, "VALIDATION_FAILED");
});

Deno.test("jobs: commit debits the actual amount once and releases the rest", async () => {
  const user = await fundedThroughApi(10);
  const { body: job } = await start(user, { amount: 5 });
  const r = await call("POST", `/jobs/${job.jobId}/commit`, user, { amount: 2 });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, {
    jobId: job.jobId,
    status: "committed",
    amount: 5,
    spent: 0,
    debited: 2,
    released: 3,
    balance: 8,
    held: 0,
    available: 8,
  });
  const again = await call("POST", `/jobs/${job.jobId}/commit`, user, { amount: 2 });
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, "JOB_NOT_PENDING");
  const cancel = await call("POST", `/jobs/${job.jobId}/cancel`, user);
  assert.equal(cancel.status, 409);
  assert.equal(cancel.body.error.code, "JOB_NOT_PENDING");
  const rows = await withAdmin((sql) =>
    sql`select kind, delta::int from credits.ledger
         where account_id = ${user.id}::uuid and cause_key = ${job.jobId}`
  );
  assert.deepEqual([...rows], [{ kind: "job_debit", delta: -2 }]);
  const read = await call("GET", `/jobs/${job.jobId}`, user);
  assert.equal(read.body.status, "committed");
  assert.equal(read.body.debited, 2);
  assert.ok(read.body.settledAt);
});

Deno.test("jobs: commit without a body debits the whole hold; 0 debits nothing", async () => {
  const user = await fundedThroughApi(10);
  const { body: a } = await start(user, { amount: 4 });
  const all = await call("POST", `/jobs/${a.jobId}/commit`, user);
  assert.equal(all.status, 200);
  assert.equal(all.body.debited, 4);
  const { body: b } = await start(user, { amount: 2 });
  const none = await call("POST", `/jobs/${b.jobId}/commit`, user, { amount: 0 });
  assert.equal(none.status, 200);
  assert.equal(none.body.debited, 0);
  assert.deepEqual(await balance(user), { balance: 6, held: 0, available: 6 });
});

Deno.test("jobs: commit above the hold is 402, bad commit bodies are 400", async () => {
  const user = await fundedThroughApi(10);
  const { body: job } = await start(user, { amount: 2 });
  const over = await call("POST", `/jobs/${job.jobId}/commit`, user, { amount: 3 });
  assert.equal(over.status, 402);
  assert.equal(over.body.error.code, "INSUFFICIENT_CREDITS");
  for (const body of [{ amount: -1 }, { amount: 1.5 }, { amount: "2" }, { other: 1 }]) {
    const r = await call("POST", `/jobs/${job.jobId}/commit`, user, body);
    assert.equal(r.status, 400, JSON.stringify(body));
  }
  const read = await call("GET", `/jobs/${job.jobId}`, user);
  assert.equal(read.body.status, "pending", "nothing was settled");
});

Deno.test("jobs: cancel releases the whole hold", async () => {
  const user = await fundedThroughApi(10);
  const { body: job } = await start(user, { amount: 6 });
  const r = await call("POST", `/jobs/${job.jobId}/cancel`, user);
  assert.equal(r.status, 200);
  assert.equal(r.body.status, "cancelled");
  assert.equal(r.body.debited, 0);
  assert.equal(r.body.released, 6);
  assert.deepEqual(await balance(user), { balance: 10, held: 0, available: 10 });
  const commit = await call("POST", `/jobs/${job.jobId}/commit`, user);
  assert.equal(commit.status, 409);
  assert.equal(commit.body.error.code, "JOB_NOT_PENDING");
});

Deno.test("jobs: extend grows the hold and the expiry, bounded by available", async () => {
  const user = await fundedThroughApi(10);
  const { body: job } = await start(user, { amount: 2, ttlSeconds: 60 });
  const r = await call("POST", `/jobs/${job.jobId}/extend`, user, { amount: 3, ttlSeconds: 120 });
  assert.equal(r.status, 200);
  assert.equal(r.body.status, "pending");
  assert.equal(r.body.amount, 5);
  assert.equal(r.body.remaining, 5);
  assert.equal(r.body.available, 5);
  assert.equal(Date.parse(r.body.expiresAt) - Date.parse(job.expiresAt), 120_000);
  const ttlOnly = await call("POST", `/jobs/${job.jobId}/extend`, user, { ttlSeconds: 30 });
  assert.equal(ttlOnly.status, 200);
  assert.equal(ttlOnly.body.amount, 5);
  const tooMuch = await call("POST", `/jobs/${job.jobId}/extend`, user, { amount: 6 });
  assert.equal(tooMuch.status, 402);
  assert.equal(tooMuch.body.error.code, "INSUFFICIENT_CREDITS");
  for (const body of [{}, { amount: 0 }, { ttlSeconds: 0 }, { amount: 1, x: 1 }]) {
    const bad = await call("POST", `/jobs/${job.jobId}/extend`, user, body);
    assert.equal(bad.status, 400, JSON.stringify(body));
  }
  const empty = await call("POST", `/jobs/${job.jobId}/extend`, user);
  assert.equal(empty.status, 400, "an empty extend is a validation error");
  assert.deepEqual(await balance(user), { balance: 10, held: 5, available: 5 });
  const commit = await call("POST", `/jobs/${job.jobId}/commit`, user, { amount: 5 });
  assert.equal(commit.body.debited, 5);
});

Deno.test("jobs: another account can neither commit, cancel nor extend a job (404)", async () => {
  const owner = await fundedThroughApi(10);
  const other = await fundedThroughApi(10);
  const { body: job } = await start(owner, { amount: 3 });
  for (
    const [path, body] of [["commit", { amount: 1 }], ["cancel", undefined], ["extend", {
      amount: 1,
    }]]
  ) {
    const r = await call("POST", `/jobs/${job.jobId}/${path}`, other, body);
    assert.equal(r.status, 404, String(path));
    assert.equal(r.body.error.code, "JOB_NOT_FOUND");
  }
  assert.deepEqual(await balance(owner), { balance: 10, held: 3, available: 7 });
  assert.deepEqual(await balance(other), { balance: 10, held: 0, available: 10 });
});

Deno.test("jobs: an expired job is 410 JOB_EXPIRED everywhere and its hold is released", async () => {
  const user = await fundedThroughApi(10);
  const { body: job } = await start(user, { amount: 4 });
  await expire(job.jobId);
  const read = await call("GET", `/jobs/${job.jobId}`, user);
  assert.equal(read.status, 200);
  assert.equal(read.body.status, "expired");
  assert.equal(read.body.remaining, 0);
  for (
    const [path, body] of [["commit", { amount: 1 }], ["cancel", undefined], ["extend", {
      ttlSeconds: 60,
    }]]
  ) {
    const r = await call("POST", `/jobs/${job.jobId}/${path}`, user, body);
    assert.equal(r.status, 410, String(path));
    assert.equal(r.body.error.code, "JOB_EXPIRED");
  }
  assert.deepEqual(await balance(user), { balance: 10, held: 0, available: 10 }, "released lazily");
  const ledger = await withAdmin((sql) =>
    sql`select count(*)::int as n from credits.ledger where cause_key = ${job.jobId}`
  );
  assert.equal(ledger[0].n, 0, "an unspent expired job debits nothing");
});

Deno.test("jobs: a device-bound job is managed only from its device (403 elsewhere)", async () => {
  const user = await fundedThroughApi(10);
  const deviceA = { "x-device-id": "device-A" };
  const { status, body: job } = await start(user, { amount: 2 }, deviceA);
  assert.equal(status, 201);
  const [row] = await withAdmin((sql) =>
    sql`select device_id from credits.jobs where id = ${job.jobId}::uuid`
  );
  assert.equal(row.device_id, "device-A");
  const read = await call("GET", `/jobs/${job.jobId}`, user);
  assert.equal(read.body.deviceBound, true);
  const elsewhere: Record<string, string>[] = [{}, { "x-device-id": "device-B" }];
  for (const headers of elsewhere) {
    for (const path of ["commit", "cancel", "extend"]) {
      const body = path === "extend" ? { ttlSeconds: 60 } : undefined;
      const r = await call("POST", `/jobs/${job.jobId}/${path}`, user, body, headers);
      assert.equal(r.status, 403, `${path} ${JSON.stringify(headers)}`);
      assert.equal(r.body.error.code, "FORBIDDEN");
    }
  }
  const ok = await call("POST", `/jobs/${job.jobId}/commit`, user, { amount: 1 }, deviceA);
  assert.equal(ok.status, 200);
  assert.equal(ok.body.debited, 1);
});

Deno.test("jobs: the job token authorises only its own job, account and device", async () => {
  const user = await fundedThroughApi(10);
  const other = await fundedThroughApi(10);
  const { body: bound } = await start(user, { amount: 2 }, { "x-device-id": "phone-1" });
  const { body: free } = await start(user, { amount: 1 });
  const api = postgres(testEnv("TEST_API_DB_URL"), { max: 1, prepare: false, onnotice: () => {} });
  const hash = async (token: string) =>
    new Uint8Array(await crypto.subtle.digest("SHA-256", base64UrlBytes(token)));
  const authorize = async (
    account: string,
    jobId: string,
    token: string,
    device: string | null,
  ) => {
    try {
      const [r] = await api`select remaining::int from api.authorize_job(
        ${account}::uuid, ${jobId}::uuid, ${await hash(token)}::bytea, ${device}::text)`;
      return `ok:${r.remaining}`;
    } catch (err) {
      const e = err as { message: string; detail?: string };
      return `${e.message}${e.detail ? `:${e.detail}` : ""}`;
    }
  };
  try {
    assert.equal(await authorize(user.id, bound.jobId, bound.jobToken, "phone-1"), "ok:2");
    assert.equal(
      await authorize(user.id, bound.jobId, bound.jobToken, "phone-2"),
      "UNAUTHORIZED:JOB_DEVICE_MISMATCH",
    );
    assert.equal(
      await authorize(user.id, bound.jobId, bound.jobToken, null),
      "UNAUTHORIZED:JOB_DEVICE_MISMATCH",
    );
    assert.equal(
      await authorize(user.id, bound.jobId, free.jobToken, "phone-1"),
      "UNAUTHORIZED:JOB_TOKEN_INVALID",
    );
    assert.equal(await authorize(user.id, free.jobId, free.jobToken, "any-device"), "ok:1");
    assert.equal(
      await authorize(other.id, free.jobId, free.jobToken, null),
      "JOB_NOT_FOUND:no such job",
    );
    await call("POST", `/jobs/${free.jobId}/cancel`, user);
    assert.match(await authorize(user.id, free.jobId, free.jobToken, null), /^JOB_NOT_PENDING/);
  } finally {
    await api.end();
  }
});

Deno.test("jobs: the jobs.start kill switch answers 503 MAINTENANCE with Retry-After, holding nothing", async () => {
  const user = await fundedThroughApi(10);
  await withAdmin((sql) =>
    sql`update ops.feature_flags set enabled = false, retry_after_seconds = 42 where name = 'jobs.start'`
  );
  try {
    const r = await start(user, { amount: 1 });
    assert.equal(r.status, 503);
    assert.equal(r.body.error.code, "MAINTENANCE");
    assert.equal(r.res.headers.get("retry-after"), "42");
    assert.deepEqual(await balance(user), { balance: 10, held: 0, available: 10 });
  } finally {
    await withAdmin((sql) =>
      sql`update ops.feature_flags set enabled = true, retry_after_seconds = 60 where name = 'jobs.start'`
    );
  }
  assert.equal((await start(user, { amount: 1 })).status, 201);
});

Deno.test("jobs: POST /jobs is rate limited per account (RateLimit headers, 429 + Retry-After)", async () => {
  const user = await fundedThroughApi(100);
  const other = await fundedThroughApi(10);
  const quota = 30;
  for (let i = 0; i < quota; i++) {
    const r = await start(user, { amount: 1 });
    assert.equal(r.status, 201, `start ${i + 1}`);
    assert.equal(r.res.headers.get("ratelimit-policy"), `"jobs.start";q=${quota};w=60`);
    assert.match(r.res.headers.get("ratelimit") ?? "", /^"jobs\.start";r=\d+;t=\d+$/);
  }
  const limited = await start(user, { amount: 1 });
  assert.equal(limited.status, 429);
  assert.equal(limited.body.error.code, "RATE_LIMITED");
  assert.ok(Number(limited.res.headers.get("retry-after")) >= 1);
  assert.equal(limited.res.headers.get("ratelimit-policy"), `"jobs.start";q=${quota};w=60`);
  assert.match(limited.res.headers.get("ratelimit") ?? "", /^"jobs\.start";r=0;t=\d+$/);
  assert.deepEqual(await balance(user), { balance: 100, held: 30, available: 70 }, "nothing held");
  assert.equal((await start(other, { amount: 1 })).status, 201, "other accounts are unaffected");
});

Deno.test("jobs: no token is 401, wrong methods 405", async () => {
  const r = await call("POST", "/jobs", null, { amount: 1 });
  assert.equal(r.status, 401);
  assert.equal(r.body.error.code, "UNAUTHORIZED");
  const user = await fundedThroughApi(3);
  const del = await call("DELETE", `/jobs/${crypto.randomUUID()}`, user);
  assert.equal(del.status, 405);
  const getCommit = await call("GET", `/jobs/${crypto.randomUUID()}/commit`, user);
  assert.equal(getCommit.status, 405);
});
