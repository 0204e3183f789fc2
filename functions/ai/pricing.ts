/**
 * Credits for a call, computed exactly like credits.ai_cost in Postgres: prices are integer
 * micro-credits per unit (token, character, image) and the total is rounded UP once. The stream
 * meter uses this to stop a stream before it costs more than its reservation.
 */

/** Frozen prices of one call (from api.ai_begin), micro-credits. */
export interface UnitPrices {
  /** Per call. */
  requestMicro: number;
  /** Per input unit (chat: prompt token; speech: character). */
  inputMicro: number;
  /** Per output unit (chat: completion token; images: image). */
  outputMicro: number;
}

const MICRO = 1_000_000;

/** ceil((request + input·inputUnits + output·outputUnits) / 1e6), in integers. */
export function costCredits(prices: UnitPrices, inputUnits: number, outputUnits: number): number {
  const micro = prices.requestMicro + prices.inputMicro * Math.max(0, inputUnits) +
    prices.outputMicro * Math.max(0, outputUnits);
  const whole = Math.floor(micro / MICRO);
  return micro - whole * MICRO > 0 ? whole + 1 : whole;
}

const encoder = new TextEncoder();

/**
 * An upper bound of the prompt tokens OpenAI will count for these texts: byte-level BPE never
 * makes a token shorter than one byte, plus the chat format's overhead (≤ 4 tokens per message
 * and 3 to prime the reply). Used for the reservation, so a hold is never overdrawn.
 */
export function promptTokenBound(texts: readonly string[]): number {
  let bytes = 0;
  for (const t of texts) bytes += encoder.encode(t).length;
  return bytes + 4 * texts.length + 3;
}

/** The usual estimate of tokens in text: one per four characters (rounded up). */
export function estimateTokens(chars: number): number {
  return Math.ceil(Math.max(0, chars) / 4);
}
