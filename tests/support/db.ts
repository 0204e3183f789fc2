/** Direct database access for tests: the superuser (checks, setup) on the fresh test database. */
import postgres from "postgres";
import { testEnv } from "./env.ts";

/** A pool connected as superuser (TEST_ADMIN_DB_URL); the caller ends it. */
export function adminSql(max = 2): postgres.Sql {
  return postgres(testEnv("TEST_ADMIN_DB_URL"), { max, prepare: false, onnotice: () => {} });
}

/** Runs `fn` with a short-lived superuser pool and closes it afterwards. */
export async function withAdmin<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = adminSql();
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}
