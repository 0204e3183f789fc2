/**
 * Kill switches:
 *   GET /admin/flags                      {flags: [{name, enabled, reason, retryAfterSeconds,
 *                                          updatedAt, updatedBy}]}
 *   PUT /admin/flags {name, enabled, reason?, retryAfterSeconds?}
 *                                         switches one flag; updatedBy = admin:current|next.
 * Unknown flag → 404 NOT_FOUND (flags are created by migrations only). Hot paths read the flag
 * inside their own SQL (immediately); cached readers see it within 5 s.
 */
import { z } from "zod";
import { type FlagRow, flagStateFromRow } from "../../_shared/flags/flags.ts";
import { validate } from "../../_shared/http/validate/index.ts";
import { adminActor, type AdminRoutes } from "../deps.ts";

const FlagBody = z.object({
  name: z.string().min(1).max(64),
  enabled: z.boolean(),
  reason: z.string().max(500).nullable().optional(),
  retryAfterSeconds: z.number().int().min(1).max(86_400).optional(),
});

export const flagRoutes: AdminRoutes = (app, deps) => {
  app.get("/flags", async (c) => {
    c.set("adminAction", "flags.list");
    const rows = await deps.sql()<FlagRow[]>`
      select name, enabled, reason, retry_after_seconds, updated_at, updated_by from api.flags_list()`;
    return c.json({ flags: rows.map(flagStateFromRow) });
  });

  app.put("/flags", validate("json", FlagBody), async (c) => {
    c.set("adminAction", "flags.update");
    const body = c.req.valid("json");
    c.set("adminAudit", { flag: body.name, enabled: body.enabled, reason: body.reason ?? null });
    const [row] = await deps.sql()<FlagRow[]>`
      select name, enabled, reason, retry_after_seconds, updated_at, updated_by
        from api.flag_set(${body.name}::text, ${body.enabled}::boolean, ${
      body.reason ?? null
    }::text,
                          ${adminActor(c.var.adminSecret)}::text, ${
      body.retryAfterSeconds ?? null
    }::int)`;
    return c.json({ flag: flagStateFromRow(row) });
  });
};
