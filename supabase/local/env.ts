/**
 * The environment a deployed function would get, for a local stack. Every value can be
 * overridden from the caller's environment, so the stack starts with chosen secrets or an
 * external OPENAI_BASE_URL (issue #3).
 */
import type { Cluster } from "./postgres.ts";
import type { StackPorts } from "./paths.ts";
import { DEV_JWT_SECRET } from "./keys.ts";

/** Development-only defaults; production refuses the well-known ones (see config.ts). */
export const LOCAL_DEFAULTS: Readonly<Record<string, string>> = {
  ENVIRONMENT: "development",
  SUPABASE_JWT_SECRET: DEV_JWT_SECRET,
  CORS_ORIGINS: "http://localhost:3000,http://127.0.0.1:3000",
  LOG_LEVEL: "info",
  ADMIN_SECRET: "local-admin-secret-change-me-in-production-0000",
  ADMIN_SECRET_NEXT: "local-admin-secret-next-for-rotation-tests-00",
  IP_HASH_SECRET: "local-ip-hash-secret-change-me-in-production-00",
  ALERT_SIGNING_SECRET: "local-alert-signing-secret-change-me-in-prod-0",
  OPENAI_API_KEY: "sk-local-fake-upstream-key",
  REVIEW_CODE: "LOCAL-REVIEW-CODE",
};

export interface StackEnv {
  env: Record<string, string>;
  /** True when no OPENAI_BASE_URL was given and the fake upstream must answer. */
  usesFakeUpstream: boolean;
}

export function stackEnv(
  cluster: Cluster,
  ports: StackPorts,
  given: Record<string, string> = Deno.env.toObject(),
): StackEnv {
  const supabaseUrl = `http://127.0.0.1:${ports.gateway}`;
  const usesFakeUpstream = !given.OPENAI_BASE_URL;
  const env: Record<string, string> = {
    ...LOCAL_DEFAULTS,
    SUPABASE_URL: supabaseUrl,
    SUPABASE_DB_URL: cluster.adminUrl,
    TOLLGATE_DB_URL: cluster.apiUrl,
    OPENAI_BASE_URL: `http://127.0.0.1:${ports.fakeUpstream}/v1`,
    APPSTORE_API_BASE_URL: `http://127.0.0.1:${ports.fakeUpstream}/appstore`,
  };
  // Caller's values win for what the functions read — except where the stack itself
  // decides (its own URL and database), so tokens and connections stay local.
  for (const [name, value] of Object.entries(given)) {
    if (STACK_OWNED.has(name)) continue;
    if (name in env || isFunctionVariable(name)) env[name] = value;
  }
  return { env, usesFakeUpstream };
}

const STACK_OWNED = new Set(["SUPABASE_URL", "SUPABASE_DB_URL", "TOLLGATE_DB_URL"]);

const FUNCTION_VARIABLE =
  /^(ENVIRONMENT|SUPABASE_|TOLLGATE_|JWT_|CORS_|LOG_|MAX_|OPENAI_|INITIAL_GRANT|JOB_|ADMIN_|IP_HASH_|REVIEW_|ENABLE_|RATE_LIMIT_|APPSTORE_|STRIPE_|ERROR_ALERT_|SECURITY_ALERT_|ALERT_|BACKUP_|RETENTION_)/;

function isFunctionVariable(name: string): boolean {
  return FUNCTION_VARIABLE.test(name);
}
