/** The jobs app without a database: validation, auth and config-derived bounds. */
import assert from "node:assert/strict";
import { createApp } from "../../../functions/jobs/app.ts";
import { jobsStartPolicy } from "../../../functions/jobs/deps.ts";
import { mintUserToken } from "../../../supabase/local/keys.ts";
import { BASE_ENV, captureLogger, testConfig } from "../http/helpers.ts";

Deno.test("jobsStartPolicy: 30/60 by default, overridable, null when limits are off", () => {
  const def = jobsStartPolicy(testConfig());
  assert.equal(def?.name, "jobs.start");
  assert.equal(def?.quota, 30);
  assert.equal(def?.windowSeconds, 60);
  const custom = jobsStartPolicy(testConfig({ RATE_LIMIT_JOBS_START: "5/10" }));
  assert.equal(custom?.quota, 5);
  assert.equal(custom?.windowSeconds, 10);
  assert.equal(jobsStartPolicy(testConfig({ ENABLE_RATE_LIMITING: "false" })), null);
});

async function request(path: string, init: RequestInit & { env?: Record<string, string> } = {}) {
  const config = testConfig(init.env);
  const app = createApp({ config, logger: captureLogger().logger });
  const token = await mintUserToken({
    supabaseUrl: BASE_ENV.SUPABASE_URL,
    alg: "HS256",
    hsSecret: config.SUPABASE_JWT_SECRET!,
  });
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${token}`);
  return await app.request(path, { ...init, headers });
}

Deno.test("jobs app: bounds come from MAX_JOB_AMOUNT and JOB_TTL_* (400 before any SQL)", async () => {
  const env = {
    MAX_JOB_AMOUNT: "5",
    JOB_TTL_MIN_SECONDS: "60",
    JOB_TTL_MAX_SECONDS: "120",
    JOB_TTL_DEFAULT_SECONDS: "90",
  };
  for (
    const body of [{ amount: 6 }, { amount: 1, ttlSeconds: 59 }, { amount: 1, ttlSeconds: 121 }]
  ) {
    const res = await request("/jobs", {
      method: "POST",
      env,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 400, JSON.stringify(body));
    const json = await res.json();
    assert.equal(json.error.code, "VALIDATION_FAILED");
  }
});

Deno.test("jobs app: malformed job ids and Idempotency-Keys are 400 before any SQL", async () => {
  const id = await request("/jobs/123/commit", { method: "POST" });
  assert.equal(id.status, 400);
  await id.body?.cancel();
  const key = await request(`/jobs/${crypto.randomUUID()}/cancel`, {
    method: "POST",
    headers: { "idempotency-key": "x".repeat(256) },
  });
  assert.equal(key.status, 400);
  await key.body?.cancel();
});
