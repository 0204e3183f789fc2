export { createSql, endAllSql, getSql, type Sql, type SqlOptions } from "./client.ts";
export { isDbError, mapDbError } from "./errors.ts";
export {
  callFunction,
  callStatement,
  type SqlArg,
  sqlLiteral,
  type SqlRunner,
  type SqlType,
} from "./call.ts";
