export { createSql, endAllSql, getSql, type Sql, type SqlOptions } from "./client.ts";
export { isDbError, mapDbError } from "./errors.ts";
