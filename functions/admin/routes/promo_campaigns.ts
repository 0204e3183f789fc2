/**
 * Promo campaigns:
 *   GET  /admin/promo-campaigns   {campaigns: [...]} (never a code or its hash; `active` = can be
 *                                 redeemed right now)
 *   POST /admin/promo-campaigns {name, code, creditsPerRedemption?, maxRedemptions?, validFrom?,
 *                                validUntil?, enabled?}
 *        → 201 {campaign}. code: 6..64 of A-Z 0-9 - _ (case-insensitive: stored as the SHA-256
 *        of its upper-case form); creditsPerRedemption defaults to REVIEW_GRANT_AMOUNT.
 *        409 CONFLICT when the name or the code is taken.
 */
import { z } from "zod";
import {
  CREATABLE_PROMO_CODE,
  normalizePromoCode,
  promoCodeHash,
} from "../../credits/routes/promo_code.ts";
import { validate } from "../../_shared/http/validate/index.ts";
import { adminActor, type AdminRoutes } from "../deps.ts";

const CampaignBody = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, "1..64 of a-z 0-9 _ . -"),
  code: z.string().transform(normalizePromoCode).pipe(
    z.string().regex(CREATABLE_PROMO_CODE, "6..64 of A-Z 0-9 - _"),
  ),
  creditsPerRedemption: z.number().int().min(1).max(1_000_000).optional(),
  maxRedemptions: z.number().int().min(1).nullable().optional(),
  validFrom: z.string().datetime({ offset: true }).optional(),
  validUntil: z.string().datetime({ offset: true }).nullable().optional(),
  enabled: z.boolean().optional(),
});

interface CampaignRow {
  id: string;
  name: string;
  credits_per_redemption: string;
  max_redemptions: number | null;
  redemptions: number;
  valid_from: Date;
  valid_until: Date | null;
  enabled: boolean;
  active: boolean;
  source: string;
  created_at: Date;
  created_by: string;
  updated_at: Date;
}

function campaignJson(r: CampaignRow) {
  return {
    id: r.id,
    name: r.name,
    creditsPerRedemption: Number(r.credits_per_redemption),
    maxRedemptions: r.max_redemptions,
    redemptions: r.redemptions,
    validFrom: r.valid_from,
    validUntil: r.valid_until,
    enabled: r.enabled,
    active: r.active,
    source: r.source,
    createdAt: r.created_at,
    createdBy: r.created_by,
    updatedAt: r.updated_at,
  };
}

export const promoCampaignRoutes: AdminRoutes = (app, deps) => {
  app.get("/promo-campaigns", async (c) => {
    c.set("adminAction", "promo_campaigns.list");
    const rows = await deps.sql()<CampaignRow[]>`select * from api.promo_campaigns_list()`;
    return c.json({ campaigns: rows.map(campaignJson) });
  });

  app.post("/promo-campaigns", validate("json", CampaignBody), async (c) => {
    c.set("adminAction", "promo_campaigns.create");
    const b = c.req.valid("json");
    const credits = b.creditsPerRedemption ?? deps.config.REVIEW_GRANT_AMOUNT;
    // Never the code: name and terms only.
    c.set("adminAudit", {
      campaign: b.name,
      creditsPerRedemption: credits,
      maxRedemptions: b.maxRedemptions ?? null,
      validFrom: b.validFrom ?? null,
      validUntil: b.validUntil ?? null,
    });
    const [row] = await deps.sql()<CampaignRow[]>`
      select * from api.promo_campaign_create(
        ${b.name}::text, ${await promoCodeHash(b.code)}::bytea, ${credits}::bigint,
        ${b.maxRedemptions ?? null}::int, ${b.validFrom ?? null}::timestamptz,
        ${b.validUntil ?? null}::timestamptz, ${b.enabled ?? true}::boolean,
        ${adminActor(c.var.adminSecret)}::text)`;
    return c.json({ campaign: campaignJson(row) }, 201);
  });
};
