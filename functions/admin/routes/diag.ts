/**
 * GET /admin/diag — is this deployment configured and healthy?
 *   secrets      which secrets are set: booleans only (plus whether a development default is in
 *                use); identifiers (App Store key ID, issuer ID) as short previews
 *   versions     tollgate, deno, v8, typescript
 *   database     round-trip latency of api.health(), database time, newest migration
 *   upstreams    reachability of the OpenAI-compatible upstream (GET /models), the App Store
 *                Server API base URL and the JWKS endpoint: status and latency, never bodies
 *   rateLimiting the effective policies; adminSecret: which secret this request used
 * No value of any secret appears in the answer (tests assert it against every one).
 */
import type { Config } from "../../_shared/config.ts";
import { DEV_IP_HASH_SECRET, DEV_JWT_SECRET } from "../../_shared/config.ts";
import type { Sql } from "../../_shared/db/client.ts";
import { elapsedMs, HealthProbeTimeout, probeDatabase } from "../../_shared/db/health_probe.ts";
import type { AdminRoutes } from "../deps.ts";

/** A short, non-reversible hint of an identifier: its first characters and its length. */
export function preview(value: string | undefined, shown = 2): string | null {
  if (!value) return null;
  if (value.length <= shown * 2) return `${"*".repeat(value.length)} (${value.length} chars)`;
  return `${value.slice(0, shown)}… (${value.length} chars)`;
}

/** Origin of a URL only (drops userinfo, path and query, which may carry credentials). */
export function originOf(url: string | undefined): string | null {
  if (!url) return null;
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

export function secretsReport(config: Config): Record<string, Record<string, unknown>> {
  const set = (v: unknown) => ({ set: typeof v === "string" && v.length > 0 });
  return {
    SUPABASE_JWT_SECRET: {
      ...set(config.SUPABASE_JWT_SECRET),
      developmentDefault: config.SUPABASE_JWT_SECRET === DEV_JWT_SECRET,
    },
    JWT_SECRET_NEXT: set(config.JWT_SECRET_NEXT),
    ADMIN_SECRET: set(config.ADMIN_SECRET),
    ADMIN_SECRET_NEXT: set(config.ADMIN_SECRET_NEXT),
    IP_HASH_SECRET: { set: true, developmentDefault: config.IP_HASH_SECRET === DEV_IP_HASH_SECRET },
    OPENAI_API_KEY: set(config.OPENAI_API_KEY),
    ALERT_SIGNING_SECRET: set(config.ALERT_SIGNING_SECRET),
    REVIEW_CODE: set(config.REVIEW_CODE),
    APPSTORE_PRIVATE_KEY: set(config.APPSTORE_PRIVATE_KEY),
    APPSTORE_KEY_ID: { ...set(config.APPSTORE_KEY_ID), preview: preview(config.APPSTORE_KEY_ID) },
    APPSTORE_ISSUER_ID: {
      ...set(config.APPSTORE_ISSUER_ID),
      preview: preview(config.APPSTORE_ISSUER_ID, 4),
    },
    ERROR_ALERT_WEBHOOK: set(config.ERROR_ALERT_WEBHOOK),
    SECURITY_ALERT_WEBHOOK: set(config.SECURITY_ALERT_WEBHOOK),
    TOLLGATE_DB_URL: set(config.TOLLGATE_DB_URL),
  };
}

export interface ProbeResult {
  reachable: boolean;
  status?: number;
  latencyMs: number;
  error?: "timeout" | "unreachable";
}

/** One request with a deadline; reports status and latency only. */
export async function probe(
  fetchFn: typeof fetch,
  url: string,
  init: RequestInit = {},
  timeoutMs = 3000,
): Promise<ProbeResult> {
  const started = performance.now();
  const elapsed = () => elapsedMs(started);
  try {
    const res = await fetchFn(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel().catch(() => {});
    return { reachable: true, status: res.status, latencyMs: elapsed() };
  } catch (err) {
    const timeout = err instanceof DOMException && err.name === "TimeoutError";
    return { reachable: false, latencyMs: elapsed(), error: timeout ? "timeout" : "unreachable" };
  }
}

async function databaseReport(sql: Sql, timeoutMs = 3000) {
  const started = performance.now();
  try {
    return await probeDatabase(sql, timeoutMs);
  } catch (err) {
    return {
      ok: false,
      roundTripMs: elapsedMs(started),
      error: err instanceof HealthProbeTimeout ? "timeout" : "unavailable",
    };
  }
}

export const diagRoutes: AdminRoutes = (app, deps) => {
  app.get("/diag", async (c) => {
    c.set("adminAction", "diag");
    const { config } = deps;
    const openaiHeaders: Record<string, string> = config.OPENAI_API_KEY
      ? { authorization: `Bearer ${config.OPENAI_API_KEY}` }
      : {};
    const [database, openai, appstore, jwks] = await Promise.all([
      databaseReport(deps.sql()),
      probe(deps.fetch, `${config.OPENAI_BASE_URL.replace(/\/+$/, "")}/models`, {
        headers: openaiHeaders,
      }),
      probe(deps.fetch, config.APPSTORE_API_BASE_URL),
      probe(deps.fetch, config.SUPABASE_JWKS_URL),
    ]);
    return c.json({
      environment: config.ENVIRONMENT,
      adminSecret: c.var.adminSecret,
      versions: {
        tollgate: config.TOLLGATE_VERSION,
        deno: Deno.version.deno,
        v8: Deno.version.v8,
        typescript: Deno.version.typescript,
      },
      secrets: secretsReport(config),
      database,
      upstreams: {
        openai: { baseUrl: originOf(config.OPENAI_BASE_URL), ...openai },
        appstore: { baseUrl: originOf(config.APPSTORE_API_BASE_URL), ...appstore },
        jwks: { url: originOf(config.SUPABASE_JWKS_URL), ...jwks },
      },
      rateLimiting: {
        enabled: config.RATE_LIMITING.enabled,
        policies: Object.values(config.RATE_LIMITING.policies).map((p) => ({
          name: p.name,
          quota: p.quota,
          windowSeconds: p.windowSeconds,
          key: p.keyKind,
          envVar: p.envVar,
        })),
      },
    });
  });
};
