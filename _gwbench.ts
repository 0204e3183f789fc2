import postgres from "postgres";
import { startFakeUpstream } from "./tests/fakes/openai_upstream.ts";
import { mintUserToken, DEV_JWT_SECRET } from "./supabase/local/keys.ts";
import { generateJobToken } from "./functions/_shared/jobs/token.ts";
const fake = await startFakeUpstream({ port: 0 });
const admin = postgres("postgres://postgres@127.0.0.1:55452/postgres", { max: 1, prepare: false, onnotice: () => {} });
const account = crypto.randomUUID();
const tok = await generateJobToken();
await admin`select api.ensure_account(${account}::uuid, 0)`;
await admin`select api.grant(${account}::uuid, 1000000000, 'admin', 'b')`;
const [j] = await admin`select job_id from api.start_job(${account}::uuid, 100000000, 3600, null, null, ${tok.hash}::bytea)`;
const port = 47311;
const child = new Deno.Command(Deno.execPath(), { args: ["run", "-A", "supabase/local/gateway.ts", "--port", String(port)], env: { SUPABASE_URL: `http://127.0.0.1:${port}`, TOLLGATE_DB_URL: "postgres://tollgate_api:x@127.0.0.1:55452/postgres", OPENAI_BASE_URL: fake.baseUrl, OPENAI_API_KEY: "sk-x", LOG_LEVEL: "warn", RATE_LIMIT_CHAT: "7000/60", ADMIN_SECRET: "x".repeat(40) }, stdout: "null", stderr: "inherit" }).spawn();
for (let i = 0; i < 100; i++) { try { await (await fetch(`http://127.0.0.1:${port}/auth/v1/.well-known/jwks.json`)).text(); break; } catch { await new Promise(r => setTimeout(r, 100)); } }
const jwt = await mintUserToken({ supabaseUrl: `http://127.0.0.1:${port}`, sub: account, alg: (Deno.env.get("ALG") ?? "HS256") as "HS256", hsSecret: DEV_JWT_SECRET });
const body = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Say something short. WORDS:20" }] });
const headers = { authorization: `Bearer ${jwt}`, "content-type": "application/json", "x-job-id": j.job_id, "x-job-token": tok.token };
async function time(name: string, url: string, h: Record<string, string>) {
  for (let i = 0; i < 30; i++) { const r = await fetch(url, { method: "POST", body, headers: h }); await r.text(); if (r.status !== 200) throw new Error(String(r.status)); }
  const a: number[] = [];
  for (let i = 0; i < 100; i++) { const t0 = performance.now(); const r = await fetch(url, { method: "POST", body, headers: h }); await r.text(); a.push(performance.now() - t0); }
  a.sort((p, q) => p - q);
  console.log(name.padEnd(10), "p50", a[50].toFixed(2), "p99", a[98].toFixed(2));
}
await time("gateway", `http://127.0.0.1:${port}/functions/v1/ai/v1/chat/completions`, headers);
async function timeAny(name: string, f: () => Promise<Response>) {
  for (let i = 0; i < 30; i++) { const r = await f(); await r.text(); }
  const a: number[] = [];
  for (let i = 0; i < 100; i++) { const t0 = performance.now(); const r = await f(); await r.text(); a.push(performance.now() - t0); }
  a.sort((p, q) => p - q);
  console.log(name.padEnd(10), "p50", a[50].toFixed(2), "p99", a[98].toFixed(2));
}
await timeAny("health", () => fetch(`http://127.0.0.1:${port}/functions/v1/health`));
await timeAny("val400", () => fetch(`http://127.0.0.1:${port}/functions/v1/ai/v1/chat/completions`, { method: "POST", body: "{}", headers }));
await timeAny("post401", () => fetch(`http://127.0.0.1:${port}/functions/v1/ai/v1/chat/completions`, { method: "POST", body: "{}", headers: {"content-type": "application/json"} }));
await timeAny("post415", () => fetch(`http://127.0.0.1:${port}/functions/v1/ai/v1/chat/completions`, { method: "POST", body: "{}", headers: {...headers, "content-type": "text/plain"} }));
await timeAny("models", () => fetch(`http://127.0.0.1:${port}/functions/v1/ai/v1/models`, { headers }));
await time("fake", `${fake.baseUrl}/chat/completions`, { authorization: "Bearer x", "content-type": "application/json" });
child.kill(); await child.status; await admin.end(); await fake.close(); Deno.exit(0);
