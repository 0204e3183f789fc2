/**
 * Helpers of the ai end-to-end tests (tests/e2e/ai_*_test.ts): funded users, jobs, test-only
 * prices, the openai SDK pointed at a gateway, balances and generation records read with SQL,
 * and a private "tuned" gateway (short timeouts, fast breaker) in front of an in-process fake
 * upstream for the fault tests.
 */
import OpenAI from "openai";
import { generateJobToken } from "../../functions/_shared/jobs/token.ts";
import { type FakeUpstream, startFakeUpstream } from "../fakes/openai_upstream.ts";
import { newUser } from "../support/auth.ts";
import { testEnv } from "../support/env.ts";
import type { TestUser } from "../support/accounts.ts";
import { withAdmin } from "../support/db.ts";

export type User = TestUser;

/** A new user whose account holds exactly `credits`. */
export async function fundedUser(credits: number): Promise<User> {
  const user = await newUser();
  await withAdmin(async (sql) => {
    await sql`select * from api.ensure_account(${user.id}::uuid, 0)`;
    if (credits > 0) {
      await sql`select * from api.grant(${user.id}::uuid, ${credits}::bigint, 'admin', 'test:ai')`;
    }
  });
  return user;
}

export interface Job {
  jobId: string;
  token: string;
}

/** Starts a job holding `amount` (as the jobs function would), optionally bound to a device. */
export async function startJob(
  user: User,
  amount: number,
  options: { device?: string; ttlSeconds?: number } = {},
): Promise<Job> {
  const token = await generateJobToken();
  const [row] = await withAdmin((sql) =>
    sql<{ job_id: string }[]>`
      select job_id from api.start_job(${user.id}::uuid, ${amount}::bigint,
        ${options.ttlSeconds ?? 900}::int, ${
      options.device ?? null
    }::text, null, ${token.hash}::bytea)`
  );
  return { jobId: row.job_id, token: token.token };
}

export interface Balance {
  balance: number;
  held: number;
  available: number;
}

export async function balanceOf(user: User): Promise<Balance> {
  const [row] = await withAdmin((sql) =>
    sql<{ balance: string; held: string; available: string }[]>`
      select balance, held, available from api.balance(${user.id}::uuid)`
  );
  return { balance: Number(row.balance), held: Number(row.held), available: Number(row.available) };
}

export interface JobState {
  amount: number;
  spent: number;
  status: string;
}

export async function jobOf(job: Job): Promise<JobState> {
  const [row] = await withAdmin((sql) =>
    sql<{ amount: string; spent: string; status: string }[]>`
      select amount, spent, status from credits.jobs where id = ${job.jobId}::uuid`
  );
  return { amount: Number(row.amount), spent: Number(row.spent), status: row.status };
}

export interface Generation {
  id: string;
  kind: string;
  model: string;
  status: string;
  error_code: string | null;
  credits_reserved: number;
  credits_charged: number | null;
  input_units: number | null;
  output_units: number | null;
  usage_source: string | null;
  upstream_status: number | null;
  attempts: number | null;
  job_id: string | null;
  streamed: boolean;
}

/** Every generation record of the user, oldest first. */
export async function generationsOf(user: User): Promise<Generation[]> {
  const rows = await withAdmin((sql) =>
    sql<Record<string, unknown>[]>`
      select id, kind, model, status, error_code, credits_reserved, credits_charged, input_units,
             output_units, usage_source, upstream_status, attempts, job_id, streamed
        from credits.ai_generations where account_id = ${user.id}::uuid order by created_at, id`
  );
  return rows.map((r) => ({
    ...r,
    credits_reserved: Number(r.credits_reserved),
    credits_charged: r.credits_charged === null ? null : Number(r.credits_charged),
    input_units: r.input_units === null ? null : Number(r.input_units),
    output_units: r.output_units === null ? null : Number(r.output_units),
  })) as Generation[];
}

/** Waits until none of the user's generations is running (settlement after a disconnect). */
export async function settled(user: User, timeoutMs = 5_000): Promise<Generation[]> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const gens = await generationsOf(user);
    if (gens.length > 0 && gens.every((g) => g.status !== "running")) return gens;
    if (Date.now() > deadline) {
      throw new Error(`generations still running: ${JSON.stringify(gens)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ChatPrice {
  perRequest: number;
  per1kInput: number;
  per1kOutput: number;
  maxTokens: number;
}

/** A chat model only this test uses (the fake answers any model name). */
export async function chatModel(name: string, price: ChatPrice): Promise<string> {
  const model = `test-${name}-${crypto.randomUUID().slice(0, 8)}`;
  await withAdmin((sql) =>
    sql`select * from api.ai_price_set(${model}, 'chat', true, 'test',
          p_credits_per_request => ${price.perRequest}::numeric,
          p_credits_per_1k_input_tokens => ${price.per1kInput}::numeric,
          p_credits_per_1k_output_tokens => ${price.per1kOutput}::numeric,
          p_max_output_tokens => ${price.maxTokens}::int)`
  );
  return model;
}

export async function speechModel(name: string, perRequest: number, per1kChars: number) {
  const model = `test-${name}-${crypto.randomUUID().slice(0, 8)}`;
  await withAdmin((sql) =>
    sql`select * from api.ai_price_set(${model}, 'speech', true, 'test',
          p_credits_per_request => ${perRequest}::numeric,
          p_credits_per_1k_chars => ${per1kChars}::numeric,
          p_voices => ${["alloy", "nova"]}::text[])`
  );
  return model;
}

export async function imageModel(name: string, perImage: number, maxImages = 4) {
  const model = `test-${name}-${crypto.randomUUID().slice(0, 8)}`;
  const prices = [
    { size: "1024x1024", quality: "standard", credits_per_image: perImage },
    { size: "1024x1792", quality: "standard", credits_per_image: perImage * 2 },
  ];
  await withAdmin((sql) =>
    sql`select * from api.ai_price_set(${model}, 'images', true, 'test',
          p_max_images => ${maxImages}::int, p_default_size => '1024x1024',
          p_default_quality => 'standard', p_image_prices => ${sql.json(prices)}::jsonb)`
  );
  return model;
}

/** ceil(chars / 4): the fake's prompt_tokens for these texts. */
export function fakeTokens(...texts: string[]): number {
  return Math.ceil(texts.reduce((n, t) => n + t.length, 0) / 4);
}

export function aiBaseUrl(gatewayRoot = testEnv("TEST_BASE_URL")): string {
  return `${gatewayRoot}/functions/v1/ai/v1`;
}

/** The official SDK as an app would configure it (no SDK retries unless asked). */
export function sdk(
  user: User,
  options: { job?: Job; gateway?: string; maxRetries?: number; headers?: Record<string, string> } =
    {},
): OpenAI {
  const defaultHeaders: Record<string, string> = { ...options.headers };
  if (options.job) {
    defaultHeaders["X-Job-Id"] = options.job.jobId;
    defaultHeaders["X-Job-Token"] = options.job.token;
  }
  return new OpenAI({
    baseURL: aiBaseUrl(options.gateway),
    apiKey: user.token,
    defaultHeaders,
    maxRetries: options.maxRetries ?? 0,
    timeout: 20_000,
  });
}

/** Raw POST to an ai route (for assertions the SDK hides). */
export async function post(
  user: User,
  path: string,
  body: unknown,
  options: { job?: Job; gateway?: string; headers?: Record<string, string> } = {},
): Promise<{ res: Response; json: Record<string, unknown> | null; text: string }> {
  const headers: Record<string, string> = {
    ...user.headers,
    "content-type": "application/json",
    ...options.headers,
  };
  if (options.job) {
    headers["x-job-id"] = options.job.jobId;
    headers["x-job-token"] = options.job.token;
  }
  const res = await fetch(`${aiBaseUrl(options.gateway)}${path}`, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(text);
  } catch { /* not JSON (audio, SSE) */ }
  return { res, json, text };
}

export interface TunedStack {
  /** Gateway root, e.g. http://127.0.0.1:PORT (pass as `gateway`). */
  gateway: string;
  fake: FakeUpstream;
  close(): Promise<void>;
}

/**
 * A second gateway process (the same supabase/local/gateway.ts) with short upstream timeouts
 * and a fast breaker, in front of an in-process fake upstream whose recorded requests the
 * tests can inspect. Faults and breaker tests run here, so the shared stack's breaker never
 * opens for the rest of the suite.
 */
export async function startTunedStack(env: Record<string, string> = {}): Promise<TunedStack> {
  const fake = await startFakeUpstream({ port: 0, apiKey: testEnv("OPENAI_API_KEY") });
  const port = freePort();
  const gateway = `http://127.0.0.1:${port}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "supabase/local/gateway.ts", "--port", String(port)],
    cwd: new URL("../../", import.meta.url).pathname,
    env: {
      ...Deno.env.toObject(),
      SUPABASE_URL: testEnv("SUPABASE_URL"),
      TOLLGATE_DB_URL: testEnv("TEST_API_DB_URL"),
      OPENAI_BASE_URL: fake.baseUrl,
      OPENAI_TIMEOUT_MS: "600",
      OPENAI_DEADLINE_MS: "3000",
      OPENAI_RETRY_BASE_MS: "20",
      OPENAI_STREAM_IDLE_TIMEOUT_MS: "800",
      OPENAI_BREAKER_FAILURES: "5",
      OPENAI_BREAKER_COOLDOWN_MS: "400",
      // Only the consecutive-failure rule: the fault tests fail on purpose, often.
      OPENAI_BREAKER_MIN_CALLS: "100000",
      // Slow token refill, so RateLimit counts do not drift while a test runs.
      RATE_LIMIT_CHAT: "60/3600",
      LOG_LEVEL: "error",
      ...env,
    },
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const deadline = Date.now() + 30_000;
  while (true) {
    try {
      const res = await fetch(`${gateway}/auth/v1/.well-known/jwks.json`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      child.kill();
      await child.status;
      await fake.close();
      throw new Error("tuned gateway did not start");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let closing: Promise<void> | undefined;
  return {
    gateway,
    fake,
    close() {
      closing ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch { /* already gone */ }
        await child.status;
        await fake.close();
      })();
      return closing;
    },
  };
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Sets the fake's mode through its control API (what an operator script would do). */
export async function setFakeMode(fakeUrl: string, mode: "normal" | "all_500" | "all_hang") {
  const res = await fetch(`${fakeUrl}/__control`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ mode }),
  });
  await res.body?.cancel();
  if (!res.ok) throw new Error(`fake control failed: ${res.status}`);
}
