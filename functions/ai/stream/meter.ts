/**
 * Meters a chat stream's output as it is forwarded, against the credits reserved for the call.
 *
 * Output tokens of forwarded text are estimated as max(content chunks, ceil(characters / 4)):
 * OpenAI sends about one token per chunk, and four characters per token is the usual average;
 * taking the larger of the two never under-counts either kind of stream. The prompt counts with
 * its estimate (ceil(characters / 4)). A chunk is admitted only while the cost of everything
 * admitted so far stays within the reservation — so a job's hold is a hard cap.
 */
import { costCredits, estimateTokens, type UnitPrices } from "../pricing.ts";

export class StreamMeter {
  readonly #prices: UnitPrices;
  readonly #reserved: number;
  readonly #promptTokens: number;
  #chunks = 0;
  #chars = 0;
  #tokens = 0;

  /**
   * @param prices the call's frozen unit prices
   * @param reserved credits reserved for the call (the cap)
   * @param promptTokens the prompt's token estimate, charged with any delivered output
   */
  constructor(prices: UnitPrices, reserved: number, promptTokens: number) {
    this.#prices = prices;
    this.#reserved = reserved;
    this.#promptTokens = promptTokens;
  }

  /** Output tokens admitted so far (the estimate). */
  get tokens(): number {
    return this.#tokens;
  }

  get promptTokens(): number {
    return this.#promptTokens;
  }

  /** Credits that the admitted output costs, prompt and per-request fee included. */
  get cost(): number {
    return costCredits(this.#prices, this.#promptTokens, this.#tokens);
  }

  /**
   * Admits a content delta if its cost still fits the reservation. Returns the tokens it added
   * (≥ 1), or null when it does not fit (nothing is counted then).
   */
  admit(text: string): number | null {
    if (text.length === 0) return 0;
    const tokens = Math.max(this.#chunks + 1, estimateTokens(this.#chars + text.length));
    if (costCredits(this.#prices, this.#promptTokens, tokens) > this.#reserved) return null;
    const added = tokens - this.#tokens;
    this.#chunks++;
    this.#chars += text.length;
    this.#tokens = tokens;
    return added;
  }
}
