/**
 * AI prices (the ai function's table, credits.ai_prices):
 *   GET /admin/prices        {prices: [...]} every model, enabled or not (api.ai_models)
 *   PUT /admin/prices {model, kind, enabled, creditsPerRequest?, creditsPer1kInputTokens?,
 *       creditsPer1kOutputTokens?, creditsPer1kChars?, maxOutputTokens?, voices?, maxImages?,
 *       defaultSize?, defaultQuality?, imagePrices?: [{size, quality, creditsPerImage}]}
 *                            creates or replaces one model's prices (api.ai_price_set);
 *                            the table's rules (e.g. a chat model has no voices) → 400 naming
 *                            the rule. The next AI call uses the new prices.
 */
import { z } from "zod";
import { validate } from "../../_shared/http/validate/index.ts";
import { type AiModelRow, imagePricesJson } from "../../_shared/prices/ai_model_row.ts";
import { adminActor, type AdminRoutes } from "../deps.ts";

const PRICE = z.number().min(0).max(1_000_000);

const PriceBody = z.object({
  model: z.string().min(1).max(100),
  kind: z.enum(["chat", "speech", "images"]),
  enabled: z.boolean(),
  creditsPerRequest: PRICE.optional(),
  creditsPer1kInputTokens: PRICE.optional(),
  creditsPer1kOutputTokens: PRICE.optional(),
  creditsPer1kChars: PRICE.optional(),
  maxOutputTokens: z.number().int().min(1).max(200_000).nullable().optional(),
  voices: z.array(z.string().min(1).max(64)).min(1).max(64).nullable().optional(),
  maxImages: z.number().int().min(1).max(4).nullable().optional(),
  defaultSize: z.string().max(16).nullable().optional(),
  defaultQuality: z.string().max(16).nullable().optional(),
  imagePrices: z.array(
    z.object({
      size: z.string().max(16),
      quality: z.string().max(16),
      creditsPerImage: z.number().positive().max(1_000_000),
    }).strict(),
  ).min(1).max(64).nullable().optional(),
});

function priceJson(r: AiModelRow) {
  return {
    model: r.model,
    kind: r.kind,
    enabled: r.enabled,
    creditsPerRequest: Number(r.credits_per_request),
    creditsPer1kInputTokens: Number(r.credits_per_1k_input_tokens),
    creditsPer1kOutputTokens: Number(r.credits_per_1k_output_tokens),
    creditsPer1kChars: Number(r.credits_per_1k_chars),
    maxOutputTokens: r.max_output_tokens,
    voices: r.voices,
    maxImages: r.max_images,
    defaultSize: r.default_size,
    defaultQuality: r.default_quality,
    imagePrices: r.image_prices ? imagePricesJson(r.image_prices) : null,
    updatedAt: r.updated_at,
    updatedBy: r.updated_by,
  };
}

export const priceRoutes: AdminRoutes = (app, deps) => {
  app.get("/prices", async (c) => {
    c.set("adminAction", "prices.list");
    const rows = await deps.sql()<AiModelRow[]>`select * from api.ai_models()`;
    return c.json({ prices: rows.map(priceJson) });
  });

  app.put("/prices", validate("json", PriceBody), async (c) => {
    c.set("adminAction", "prices.update");
    const b = c.req.valid("json");
    c.set("adminAudit", { price: b });
    const imagePrices = b.imagePrices
      ? JSON.stringify(b.imagePrices.map((i) => ({
        size: i.size,
        quality: i.quality,
        credits_per_image: i.creditsPerImage,
      })))
      : null;
    const sql = deps.sql();
    await sql`
      select * from api.ai_price_set(
        ${b.model}::text, ${b.kind}::text, ${b.enabled}::boolean, ${
      adminActor(c.var.adminSecret)
    }::text,
        ${b.creditsPerRequest ?? 0}::numeric, ${b.creditsPer1kInputTokens ?? 0}::numeric,
        ${b.creditsPer1kOutputTokens ?? 0}::numeric, ${b.creditsPer1kChars ?? 0}::numeric,
        ${b.maxOutputTokens ?? null}::int, ${b.voices ?? null}::text[], ${b.maxImages ?? null}::int,
        ${b.defaultSize ?? null}::text, ${
      b.defaultQuality ?? null
    }::text, ${imagePrices}::text::jsonb)`;
    const rows = await sql<AiModelRow[]>`select * from api.ai_models() where model = ${b.model}`;
    return c.json({ price: priceJson(rows[0]) });
  });
};
