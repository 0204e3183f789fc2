/** The shared HTTP core: import from here in function apps. */
export { type BaseAppOptions, createBaseApp } from "./app.ts";
export {
  ApiError,
  type ApiErrorOptions,
  apiErrorResponse,
  ERROR_STATUS,
  type ErrorBody,
  type ErrorCode,
  type ErrorDetails,
  errorResponse,
  isErrorCode,
} from "./errors.ts";
export { bodyLimit, type BodyLimitOptions } from "./body-limit/index.ts";
export { cors, CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, type CorsOptions } from "./cors/index.ts";
export { errorHandler, notFoundHandler, toApiError } from "./error-handler/index.ts";
export { isWellFormedRequestId, requestId, type RequestIdOptions } from "./request-id/index.ts";
export {
  SECURITY_HEADERS,
  securityHeaders,
  type SecurityHeadersOptions,
} from "./security-headers/index.ts";
export {
  type FieldProblem,
  parseOrThrow,
  readJson,
  validate,
  type ValidationTarget,
} from "./validate/index.ts";
export type { AppEnv, BaseVariables } from "./types.ts";
