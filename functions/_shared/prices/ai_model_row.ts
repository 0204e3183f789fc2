/**
 * One row of `api.ai_models()` (the price list) as postgres.js returns it, read by the ai
 * function's /v1/models and the admin function's /prices. numeric columns arrive as strings.
 */

/** One image price of a model: credits for one image of that size and quality. */
export interface ImagePriceRow {
  size: string;
  quality: string;
  credits_per_image: number | string;
}

export interface AiModelRow {
  model: string;
  kind: "chat" | "speech" | "images";
  enabled: boolean;
  credits_per_request: string;
  credits_per_1k_input_tokens: string;
  credits_per_1k_output_tokens: string;
  credits_per_1k_chars: string;
  max_output_tokens: number | null;
  voices: string[] | null;
  max_images: number | null;
  default_size: string | null;
  default_quality: string | null;
  image_prices: ImagePriceRow[] | null;
  updated_at: Date;
  updated_by: string | null;
}

export interface ImagePriceJson {
  size: string;
  quality: string;
  creditsPerImage: number;
}

/** Image prices in the APIs' camelCase JSON. */
export function imagePricesJson(prices: readonly ImagePriceRow[]): ImagePriceJson[] {
  return prices.map((p) => ({
    size: p.size,
    quality: p.quality,
    creditsPerImage: Number(p.credits_per_image),
  }));
}
