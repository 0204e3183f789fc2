/**
 * GET /credits/ledger?limit=&cursor= → {items, nextCursor}
 * The caller's ledger rows, newest first. limit 1..100 (default 20); nextCursor is an opaque
 * string to pass back as `cursor` for the next (older) page, null on the last page. Keyset
 * pagination: pages stay stable while new rows are appended.
 */
import { z } from "zod";
import { validate } from "../../_shared/http/validate/index.ts";
import { callFunction } from "../../_shared/db/call.ts";
import type { CreditsRoutes } from "../deps.ts";

export const DEFAULT_LEDGER_LIMIT = 20;
export const MAX_LEDGER_LIMIT = 100;

const query = z.object({
  limit: z.string().regex(/^\d{1,3}$/, "Must be an integer 1..100").transform(Number)
    .pipe(z.number().int().min(1).max(MAX_LEDGER_LIMIT)).optional(),
  cursor: z.string().regex(/^[1-9]\d{0,17}$/, "Must be a cursor from a previous page")
    .optional(),
});

interface LedgerRow {
  id: string;
  kind: string;
  delta: string;
  balance_after: string;
  cause_type: string;
  cause_key: string;
  reason: string | null;
  created_at: Date;
  hash: string;
}

export const ledgerRoutes: CreditsRoutes = (app, deps) => {
  app.get("/ledger", validate("query", query), async (c) => {
    const { limit = DEFAULT_LEDGER_LIMIT, cursor } = c.req.valid("query");
    const sql = deps.sql();
    // One row more than asked tells whether an older page exists.
    // The cursor is up to 18 digits: a JS bigint keeps ids beyond 2^53 exact.
    const rows = await callFunction<LedgerRow>(sql, "api.credits_ledger", [
      [c.var.account, "uuid"],
      [deps.config.INITIAL_GRANT, "int"],
      [limit + 1, "int"],
      [cursor === undefined ? null : BigInt(cursor), "bigint"],
    ], "id, kind, delta, balance_after, cause_type, cause_key, reason, created_at, hash");
    const page = rows.slice(0, limit);
    const nextCursor = rows.length > limit ? page[page.length - 1].id : null;
    c.header("Cache-Control", "no-store");
    return c.json({
      items: page.map((r) => ({
        id: r.id,
        kind: r.kind,
        delta: Number(r.delta),
        balanceAfter: Number(r.balance_after),
        causeType: r.cause_type,
        causeKey: r.cause_key,
        reason: r.reason,
        createdAt: r.created_at.toISOString(),
        hash: r.hash,
      })),
      nextCursor,
    });
  });
};
