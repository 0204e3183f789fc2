/**
 * GET /admin/accounts/:id?ledger=20&jobs=20 — one account at a glance: balance, held,
 * available, the newest ledger rows and jobs, promo redemptions, failures and any block.
 * Unknown account → 404 NOT_FOUND. One SQL call (api.admin_account_overview), read-only.
 */
import { z } from "zod";
import { validate } from "../../_shared/http/validate/index.ts";
import type { AdminRoutes } from "../deps.ts";

const Params = z.object({ id: z.string().uuid() });
const LIMIT = z.string().regex(/^\d{1,3}$/).transform(Number).pipe(
  z.number().int().min(1).max(200),
);
const Query = z.object({ ledger: LIMIT.optional(), jobs: LIMIT.optional() });

export const accountRoutes: AdminRoutes = (app, deps) => {
  app.get("/accounts/:id", validate("param", Params), validate("query", Query), async (c) => {
    c.set("adminAction", "accounts.get");
    const id = c.req.valid("param").id.toLowerCase();
    const q = c.req.valid("query");
    c.set("adminAccountId", id);
    const [row] = await deps.sql()<{ overview: Record<string, unknown> }[]>`
      select api.admin_account_overview(${id}::uuid, ${q.ledger ?? 20}::int, ${q.jobs ?? 20}::int)
        as overview`;
    return c.json({ account: row.overview });
  });
};
