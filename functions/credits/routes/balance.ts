/**
 * GET /credits/balance → {balance, held, available}
 * One SQL call (api.credits_balance): the first authenticated call creates the account with
 * INITIAL_GRANT credits (exactly once, also under concurrent first calls); expired holds are
 * released before the numbers are read.
 */
import type { CreditsRoutes } from "../deps.ts";
import { callFunction } from "../../_shared/db/call.ts";

interface BalanceRow {
  balance: string;
  held: string;
  available: string;
}

export const balanceRoutes: CreditsRoutes = (app, deps) => {
  app.get("/balance", async (c) => {
    const sql = deps.sql();
    const [row] = await callFunction<BalanceRow>(sql, "api.credits_balance", [
      [c.var.account, "uuid"],
      [deps.config.INITIAL_GRANT, "int"],
    ], "balance, held, available");
    c.header("Cache-Control", "no-store");
    return c.json({
      balance: Number(row.balance),
      held: Number(row.held),
      available: Number(row.available),
    });
  });
};
