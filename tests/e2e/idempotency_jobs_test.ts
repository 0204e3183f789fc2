/**
 * Idempotency-Key on the jobs routes, end to end through the gateway (issue 4): replay with
 * Idempotent-Replayed, 422 on a different request, 409 while the first is in progress, keys per
 * account, malformed keys, and errors that leave the key reusable.
 */
import assert from "node:assert/strict";
import { requestHash } from "../../functions/_shared/idempotency/hash.ts";
import { fnUrl } from "../support/env.ts";
import { fundedThroughApi, type TestUser } from "../support/accounts.ts";
import { withAdmin } from "../support/db.ts";
import { callFn } from "../support/http.ts";

type User = TestUser;

/** A POST with `body` sent as-is (the tests compare raw bodies and malformed JSON). */
const post = (
  path: string,
  user: User,
  body: string | undefined,
  headers: Record<string, string> = {},
) => callFn("POST", path, { ...user.headers, ...headers }, body);

async function heldOf(user: User): Promise<number> {
  const res = await fetch(fnUrl("/credits/balance"), { headers: user.headers });
  return (await res.json()).held;
}

Deno.test("idempotency: the same key and body replay the first start exactly, with Idempotent-Replayed", async () => {
  const user = await fundedThroughApi(10);
  const key = { "idempotency-key": `start-${crypto.randomUUID()}` };
  const first = await post("/jobs", user, '{"amount":3}', key);
  assert.equal(first.status, 201);
  assert.equal(first.res.headers.get("idempotent-replayed"), null);
  const second = await post("/jobs", user, '{"amount":3}', key);
  assert.equal(second.status, 201);
  assert.equal(second.res.headers.get("idempotent-replayed"), "true");
  assert.equal(second.text, first.text, "byte-identical replay, token included");
  assert.equal(await heldOf(user), 3, "held once");
  const jobs = await withAdmin((sql) =>
    sql`select count(*)::int as n from credits.jobs where account_id = ${user.id}::uuid`
  );
  assert.equal(jobs[0].n, 1);
});

Deno.test("idempotency: the replayed token is the job's token (its hash is the stored one)", async () => {
  const user = await fundedThroughApi(10);
  const key = { "idempotency-key": crypto.randomUUID() };
  await post("/jobs", user, '{"amount":1}', key);
  const replay = await post("/jobs", user, '{"amount":1}', key);
  const bytes = Uint8Array.from(
    atob(replay.body.jobToken.replace(/-/g, "+").replace(/_/g, "/") + "="),
    (c) => c.charCodeAt(0),
  );
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const [row] = await withAdmin((sql) =>
    sql`select token_hash from credits.jobs where id = ${replay.body.jobId}::uuid`
  );
  assert.deepEqual(new Uint8Array(row.token_hash), digest);
});

Deno.test("idempotency: the same key with another body, path or device is 422 IDEMPOTENCY_KEY_REUSED", async () => {
  const user = await fundedThroughApi(10);
  const key = `k-${crypto.randomUUID()}`;
  const first = await post("/jobs", user, '{"amount":2}', { "idempotency-key": key });
  assert.equal(first.status, 201);
  const otherBody = await post("/jobs", user, '{"amount":3}', { "idempotency-key": key });
  assert.equal(otherBody.status, 422);
  assert.equal(otherBody.body.error.code, "IDEMPOTENCY_KEY_REUSED");
  const otherDevice = await post("/jobs", user, '{"amount":2}', {
    "idempotency-key": key,
    "x-device-id": "tablet",
  });
  assert.equal(otherDevice.status, 422);
  const otherRoute = await post(`/jobs/${first.body.jobId}/cancel`, user, undefined, {
    "idempotency-key": key,
  });
  assert.equal(otherRoute.status, 422, "keys are per account, not per route");
  assert.equal(await heldOf(user), 2);
});

Deno.test("idempotency: 10 concurrent starts with one key hold once and all answer the same job", async () => {
  const user = await fundedThroughApi(10);
  const key = { "idempotency-key": crypto.randomUUID() };
  const answers = await Promise.all(
    Array.from({ length: 10 }, () => post("/jobs", user, '{"amount":2}', key)),
  );
  for (const a of answers) assert.equal(a.status, 201);
  assert.equal(new Set(answers.map((a) => a.text)).size, 1, "one job, one token");
  const fresh = answers.filter((a) => a.res.headers.get("idempotent-replayed") !== "true");
  assert.equal(fresh.length, 1, "exactly one request did the work");
  assert.equal(await heldOf(user), 2);
});

Deno.test("idempotency: a key whose first request is still in progress is 409 IDEMPOTENCY_KEY_IN_USE", async () => {
  const user = await fundedThroughApi(10);
  const key = `inflight-${crypto.randomUUID()}`;
  const body = '{"amount":1}';
  // A request with this key and body that started (e.g. through the generic middleware) and
  // has not finished: claimed exactly as the route would claim it.
  const hash = await requestHash("POST", "/jobs", body, [""]);
  await withAdmin((sql) =>
    sql`select * from api.idempotency_begin(${user.id}::uuid, ${key}, ${hash})`
  );
  const r = await post("/jobs", user, body, { "idempotency-key": key });
  assert.equal(r.status, 409);
  assert.equal(r.body.error.code, "IDEMPOTENCY_KEY_IN_USE");
  assert.equal(await heldOf(user), 0);
  const other = await post("/jobs", user, '{"amount":2}', { "idempotency-key": key });
  assert.equal(other.status, 422, "another request with the key is still 422");
});

Deno.test("idempotency: keys are per account", async () => {
  const a = await fundedThroughApi(10);
  const b = await fundedThroughApi(10);
  const key = { "idempotency-key": "shared-key-1" };
  const ra = await post("/jobs", a, '{"amount":1}', key);
  const rb = await post("/jobs", b, '{"amount":1}', key);
  assert.equal(ra.status, 201);
  assert.equal(rb.status, 201);
  assert.equal(rb.res.headers.get("idempotent-replayed"), null);
  assert.notEqual(ra.body.jobId, rb.body.jobId);
  assert.notEqual(ra.body.jobToken, rb.body.jobToken);
  const rb2 = await post("/jobs", b, '{"amount":2}', key);
  assert.equal(rb2.status, 422, "b's key now belongs to b's request");
});

Deno.test("idempotency: a failed request stores nothing, so the same key can be retried", async () => {
  const user = await fundedThroughApi(3);
  const key = { "idempotency-key": crypto.randomUUID() };
  const short = await post("/jobs", user, '{"amount":5}', key);
  assert.equal(short.status, 402);
  await withAdmin((sql) => sql`select * from api.grant(${user.id}::uuid, 5, 'admin', 'test:more')`);
  const retry = await post("/jobs", user, '{"amount":5}', key);
  assert.equal(retry.status, 201);
  assert.equal(retry.res.headers.get("idempotent-replayed"), null);
});

Deno.test("idempotency: commit, cancel and extend replay too", async () => {
  const user = await fundedThroughApi(20);
  const { body: job } = await post("/jobs", user, '{"amount":4}');
  const extendKey = { "idempotency-key": crypto.randomUUID() };
  const e1 = await post(`/jobs/${job.jobId}/extend`, user, '{"amount":2}', extendKey);
  const e2 = await post(`/jobs/${job.jobId}/extend`, user, '{"amount":2}', extendKey);
  assert.equal(e1.status, 200);
  assert.equal(e2.status, 200);
  assert.equal(e2.res.headers.get("idempotent-replayed"), "true");
  assert.equal(e2.text, e1.text);
  assert.equal(e1.body.amount, 6, "extended once");

  const commitKey = { "idempotency-key": crypto.randomUUID() };
  const c1 = await post(`/jobs/${job.jobId}/commit`, user, '{"amount":5}', commitKey);
  const c2 = await post(`/jobs/${job.jobId}/commit`, user, '{"amount":5}', commitKey);
  assert.equal(c1.status, 200);
  assert.equal(c2.status, 200, "a retried commit is not JOB_NOT_PENDING");
  assert.equal(c2.res.headers.get("idempotent-replayed"), "true");
  assert.equal(c2.text, c1.text);
  const unkeyed = await post(`/jobs/${job.jobId}/commit`, user, '{"amount":5}');
  assert.equal(unkeyed.status, 409, "without the key it is a second commit");

  const { body: job2 } = await post("/jobs", user, '{"amount":1}');
  const cancelKey = { "idempotency-key": crypto.randomUUID() };
  const x1 = await post(`/jobs/${job2.jobId}/cancel`, user, undefined, cancelKey);
  const x2 = await post(`/jobs/${job2.jobId}/cancel`, user, undefined, cancelKey);
  assert.equal(x1.status, 200);
  assert.equal(x2.res.headers.get("idempotent-replayed"), "true");
  assert.equal(x2.text, x1.text);
  const debits = await withAdmin((sql) =>
    sql`select count(*)::int as n, sum(delta)::int as total from credits.ledger
         where account_id = ${user.id}::uuid and kind = 'job_debit'`
  );
  assert.deepEqual({ ...debits[0] }, { n: 1, total: -5 });
});

Deno.test("idempotency: malformed keys are 400 VALIDATION_FAILED", async () => {
  const user = await fundedThroughApi(5);
  // (fetch trims leading/trailing spaces itself; the unit tests cover those.)
  for (const key of ["x".repeat(256), "", "tab\there", "ümlaut"]) {
    const r = await post("/jobs", user, '{"amount":1}', { "idempotency-key": key });
    assert.equal(r.status, 400, JSON.stringify(key));
    assert.equal(r.body.error.code, "VALIDATION_FAILED");
  }
  const ok = await post("/jobs", user, '{"amount":1}', { "idempotency-key": "x".repeat(255) });
  assert.equal(ok.status, 201, "255 characters are fine");
  assert.equal(await heldOf(user), 1);
});

Deno.test("idempotency: keys are kept 24 h and then purged", async () => {
  const user = await fundedThroughApi(5);
  const key = crypto.randomUUID();
  await post("/jobs", user, '{"amount":1}', { "idempotency-key": key });
  await withAdmin(async (sql) => {
    const [row] = await sql`select status, response_status from credits.idempotency_keys
                             where account_id = ${user.id}::uuid and key = ${key}`;
    assert.deepEqual({ ...row }, { status: "completed", response_status: 201 });
    await sql`update credits.idempotency_keys set created_at = now() - interval '25 hours'
               where account_id = ${user.id}::uuid and key = ${key}`;
    await sql`select api.purge_idempotency_keys()`;
    const left = await sql`select 1 from credits.idempotency_keys
                            where account_id = ${user.id}::uuid and key = ${key}`;
    assert.equal(left.length, 0);
    const [cron] = await sql`select schedule from cron.job
                              where jobname = 'tollgate-purge-idempotency-keys'`;
    assert.ok(cron, "pg_cron purges hourly");
  });
});
