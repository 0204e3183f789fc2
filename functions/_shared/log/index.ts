export {
  createLogger,
  type LogFields,
  type Logger,
  type LoggerOptions,
  type LogSink,
} from "./logger.ts";
export { isSecretKey, redact, REDACTED, redactString } from "./redact.ts";
export { requestLog, type RequestLogOptions } from "./request-log/index.ts";
