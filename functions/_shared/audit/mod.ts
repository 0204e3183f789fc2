export { edgeRuntime, flushAfterResponse, runAfterResponse } from "./after_response.ts";
export {
  AUDIT_ACTION,
  type AuditCategory,
  type AuditEvent,
  auditMetadata,
  type AuditWriter,
  type AuditWriterOptions,
  createAuditWriter,
  MAX_METADATA_BYTES,
} from "./writer.ts";
export { clientIpHash } from "./client_ip_hash.ts";
