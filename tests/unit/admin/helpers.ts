/** Shared pieces of the admin unit tests: a config, a capturing audit writer, a quiet logger. */
import type { AuditEvent, AuditWriter } from "../../../functions/_shared/audit/writer.ts";
import { type Config, parseConfig } from "../../../functions/_shared/config.ts";
import { createLogger, type Logger } from "../../../functions/_shared/log/logger.ts";

export const CURRENT = "unit-admin-secret-current-0123456789abcdef";
export const NEXT = "unit-admin-secret-next-0123456789abcdef0000";

export function adminConfig(env: Record<string, string> = {}): Config {
  return parseConfig({
    SUPABASE_URL: "http://127.0.0.1:1",
    TOLLGATE_DB_URL: "postgres://tollgate_api:unit-db-password@127.0.0.1:1/postgres",
    ADMIN_SECRET: CURRENT,
    ADMIN_SECRET_NEXT: NEXT,
    ENABLE_RATE_LIMITING: "false",
    ...env,
  });
}

export function capturingAudit(): AuditWriter & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return {
    events,
    record: (event) => void events.push(event),
    write: (event) => {
      events.push(event);
      return Promise.resolve();
    },
  };
}

export const quietLogger: Logger = createLogger({ level: "error", sink: () => {} });
