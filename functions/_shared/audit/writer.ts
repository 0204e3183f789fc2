/**
 * Audit events (ops.audit_log through api.log_audit), written after the response.
 *
 *   const audit = createAuditWriter({ sql, log });
 *   audit.record({ category: "admin", action: "admin.flags.update", requestId, ipHash,
 *                  metadata: { flag: "ai.chat", enabled: false } });
 *
 * - category: security (auth failures, promo refusals), admin (every admin action), credits.
 * - action: lower-case dotted name, e.g. auth.failed, admin.grants.create (^[a-z0-9_.:-]{1,80}$).
 * - metadata is redacted here (secret-looking keys such as code, token, secret become
 *   "[REDACTED]", token-like strings are masked) and capped in size; IPs arrive as HMACs only.
 * Decisions that write money or lockout state (promo) audit inside their own SQL transaction
 * instead; this writer is for everything else.
 */
import type { Sql } from "../db/client.ts";
import type { Logger } from "../log/logger.ts";
import { redact } from "../log/redact.ts";
import { runAfterResponse } from "./after_response.ts";

export type AuditCategory = "security" | "admin" | "credits";

export interface AuditEvent {
  category: AuditCategory;
  /** e.g. "auth.failed", "admin.grants.create". */
  action: string;
  accountId?: string | null;
  deviceId?: string | null;
  /** clientIpHash(...) of the request, never a raw IP. */
  ipHash?: string | null;
  requestId?: string | null;
  metadata?: Record<string, unknown>;
}

export interface AuditWriter {
  /** Writes the event after the response (EdgeRuntime.waitUntil); failures are logged. */
  record(event: AuditEvent): void;
  /** Writes the event now (for callers that must know it is stored). */
  write(event: AuditEvent): Promise<void>;
}

export interface AuditWriterOptions {
  /** Connected as tollgate_api (api.log_audit); resolved per write (the isolate's client). */
  sql: () => Sql;
  log: Pick<Logger, "error">;
}

export const AUDIT_ACTION = /^[a-z0-9_.:-]{1,80}$/;
/** Serialised metadata larger than this is replaced by a note (a row must stay small). */
export const MAX_METADATA_BYTES = 8 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Redacted, size-capped, JSON-safe metadata. */
export function auditMetadata(
  metadata: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const clean = (redact(metadata ?? {}) ?? {}) as Record<string, unknown>;
  const size = new TextEncoder().encode(JSON.stringify(clean)).length;
  if (size > MAX_METADATA_BYTES) return { truncated: true, originalBytes: size };
  return clean;
}

function checked(event: AuditEvent): AuditEvent {
  if (!AUDIT_ACTION.test(event.action)) throw new Error(`invalid audit action "${event.action}"`);
  if (event.accountId && !UUID.test(event.accountId)) {
    throw new Error("audit accountId must be a UUID");
  }
  return event;
}

export function createAuditWriter(options: AuditWriterOptions): AuditWriter {
  async function write(event: AuditEvent): Promise<void> {
    const e = checked(event);
    const metadata = auditMetadata(e.metadata);
    await options.sql()`
      select api.log_audit(
        ${e.category}::text, ${e.action}::text, ${e.accountId ?? null}::uuid,
        ${e.deviceId?.slice(0, 128) ?? null}::text, ${e.ipHash ?? null}::text,
        ${e.requestId?.slice(0, 128) ?? null}::text, ${JSON.stringify(metadata)}::text::jsonb
      )`;
  }
  return {
    write,
    record(event) {
      runAfterResponse(() => write(event), options.log, "audit write failed");
    },
  };
}
