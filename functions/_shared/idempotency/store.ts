/**
 * Persistence of idempotency keys: the ledger's api.idempotency_begin / complete / abandon.
 * Keys are per account and kept 24 h (pg_cron `tollgate-purge-idempotency-keys` purges hourly);
 * a claim left in progress for 10 minutes (crashed isolate) may be taken again.
 */
import type { Sql } from "../db/client.ts";
import { callFunction } from "../db/call.ts";
import { asStoredResponse, type StoredResponse } from "./stored.ts";

/** What `begin` found: run the request, or replay what the first one answered. */
export type BeginResult =
  | { state: "started" }
  | { state: "replay"; status: number; response: StoredResponse };

export interface IdempotencyStore {
  /**
   * Claims (account, key) for a request with `requestHash`. Throws the database error
   * IDEMPOTENCY_KEY_REUSED (422, another request hash) or IDEMPOTENCY_KEY_IN_USE (409, the first
   * request is still running); the error handler maps both.
   */
  begin(account: string, key: string, requestHash: string): Promise<BeginResult>;
  /** Records the response of a claimed key for replay. false if the claim is gone. */
  complete(
    account: string,
    key: string,
    status: number,
    response: StoredResponse,
  ): Promise<boolean>;
  /** Drops a claim so the same key can be retried (the request failed and changed nothing). */
  abandon(account: string, key: string): Promise<boolean>;
}

interface BeginRow {
  state: "started" | "replay";
  response_status: number | null;
  response_body: unknown;
}

/**
 * The store backed by the api.idempotency_* functions (postgres.js as tollgate_api; one round
 * trip per call via callFunction). Pass a
 * client, or a getter (resolved on each call, e.g. `() => getSql(config)`).
 */
export function createSqlIdempotencyStore(source: Sql | (() => Sql)): IdempotencyStore {
  // A postgres.js client is itself a function; a getter has no `unsafe` method.
  const db: () => Sql = "unsafe" in source ? () => source as Sql : source as () => Sql;
  return {
    async begin(account, key, requestHash) {
      const sql = db();
      const [row] = await callFunction<BeginRow>(sql, "api.idempotency_begin", [
        [account, "uuid"],
        [key, "text"],
        [requestHash, "text"],
      ], "state, response_status, response_body");
      if (row.state === "started") return { state: "started" };
      const stored = asStoredResponse(row.response_body);
      if (!stored || row.response_status === null) {
        throw new Error("idempotency_begin returned a replay without a stored response");
      }
      return { state: "replay", status: row.response_status, response: stored };
    },
    async complete(account, key, status, response) {
      const sql = db();
      const [row] = await callFunction<{ ok: boolean }>(sql, "api.idempotency_complete", [
        [account, "uuid"],
        [key, "text"],
        [status, "int"],
        [response, "jsonb"],
      ], "idempotency_complete as ok");
      return row.ok;
    },
    async abandon(account, key) {
      const sql = db();
      const [row] = await callFunction<{ ok: boolean }>(sql, "api.idempotency_abandon", [
        [account, "uuid"],
        [key, "text"],
      ], "idempotency_abandon as ok");
      return row.ok;
    },
  };
}
