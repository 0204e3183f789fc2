/**
 * GET /ai/v1/models and /ai/v1/models/:id — the enabled models with their prices, in OpenAI's
 * list shape (the SDK's `models.list()` works), plus a `tollgate` object with the prices.
 * One read-only SQL call; no rate limit, no charge.
 */
import type { Hono } from "hono";
import type { AuthEnv } from "../../_shared/auth/middleware/index.ts";
import { ApiError } from "../../_shared/http/errors.ts";
import { type AiModelRow, imagePricesJson } from "../../_shared/prices/ai_model_row.ts";
import type { AiDeps } from "../deps.ts";

export interface ModelEntry {
  id: string;
  object: "model";
  created: number;
  owned_by: "tollgate";
  tollgate: Record<string, unknown>;
}

export function modelEntry(row: AiModelRow): ModelEntry {
  const prices: Record<string, unknown> = {
    kind: row.kind,
    creditsPerRequest: Number(row.credits_per_request),
  };
  if (row.kind === "chat") {
    prices.creditsPer1kInputTokens = Number(row.credits_per_1k_input_tokens);
    prices.creditsPer1kOutputTokens = Number(row.credits_per_1k_output_tokens);
    prices.maxTokens = row.max_output_tokens;
  } else if (row.kind === "speech") {
    prices.creditsPer1kChars = Number(row.credits_per_1k_chars);
    prices.voices = row.voices;
    prices.maxInputChars = 4096;
  } else {
    prices.maxImages = row.max_images;
    prices.defaultSize = row.default_size;
    prices.defaultQuality = row.default_quality;
    prices.images = imagePricesJson(row.image_prices ?? []);
  }
  return {
    id: row.model,
    object: "model",
    created: Math.floor(new Date(row.updated_at).getTime() / 1000),
    owned_by: "tollgate",
    tollgate: prices,
  };
}

async function enabledModels(deps: AiDeps): Promise<ModelEntry[]> {
  const rows = await deps.sql()<AiModelRow[]>`select * from api.ai_models()`;
  return rows.filter((r) => r.enabled).map(modelEntry);
}

export function registerModels(app: Hono<AuthEnv>, deps: AiDeps): void {
  app.get("/v1/models", async (c) => {
    return c.json({ object: "list", data: await enabledModels(deps) });
  });
  app.get("/v1/models/:id", async (c) => {
    const id = c.req.param("id");
    const found = (await enabledModels(deps)).find((m) => m.id === id);
    if (!found) throw new ApiError("NOT_FOUND", "No such model");
    return c.json(found);
  });
}
