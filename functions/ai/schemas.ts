/**
 * Request bodies of the OpenAI-compatible routes (strict: an unknown field is 400
 * VALIDATION_FAILED). Only the fields below are accepted, and only they are sent upstream —
 * Tollgate builds the upstream body from the validated values, never from the raw request.
 * Per-model bounds (max_tokens cap, voices, image sizes/qualities, n) live with the prices in
 * Postgres and are checked by api.ai_begin.
 */
import { z } from "zod";

/** Bounds that do not depend on the model. */
export const LIMITS = Object.freeze({
  /** chat: messages per request. */
  maxMessages: 100,
  /** chat: characters of one message's text. */
  maxMessageChars: 32_000,
  /** chat: characters of all messages together. */
  maxTotalChars: 128_000,
  /** chat: text parts in one message's content array. */
  maxContentParts: 32,
  /** chat: largest max_tokens accepted before the per-model cap applies. */
  maxTokens: 200_000,
  /** speech: input characters. */
  maxSpeechChars: 4096,
  /** images: prompt characters. */
  maxPromptChars: 4000,
  /** images: images per request (per model possibly fewer). */
  maxImages: 4,
});

/** Model ids as the provider spells them; the price table decides which are allowed. */
export const modelId = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/,
  "Must be a model id (letters, digits, . _ : -)",
);

const textPart = z.object({ type: z.literal("text"), text: z.string().max(LIMITS.maxMessageChars) })
  .strict();

const content = z.union([
  z.string().max(LIMITS.maxMessageChars),
  z.array(textPart).min(1).max(LIMITS.maxContentParts),
]);

const message = z.object({
  role: z.enum(["system", "developer", "user", "assistant"]),
  content,
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "1 to 64 of A-Z a-z 0-9 _ -").optional(),
}).strict();

export type ChatMessage = z.infer<typeof message>;

const stop = z.union([z.string().min(1).max(64), z.array(z.string().min(1).max(64)).max(4)]);

/**
 * POST /v1/chat/completions. Passed through: model, messages (text only), max_tokens or
 * max_completion_tokens, temperature, top_p, presence_penalty, frequency_penalty, stop, seed,
 * response_format (text | json_object), stream, stream_options.include_usage, n (= 1 only).
 * Not accepted: tools/functions, logprobs, logit_bias, n > 1, audio/image content, user.
 */
export const chatBody = z.object({
  model: modelId,
  messages: z.array(message).min(1).max(LIMITS.maxMessages),
  max_tokens: z.number().int().min(1).max(LIMITS.maxTokens).nullish(),
  max_completion_tokens: z.number().int().min(1).max(LIMITS.maxTokens).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  stop: stop.nullish(),
  seed: z.number().int().min(-(2 ** 53) + 1).max(2 ** 53 - 1).nullish(),
  n: z.literal(1).nullish(),
  response_format: z.object({ type: z.enum(["text", "json_object"]) }).strict().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).strict().nullish(),
}).strict()
  .superRefine((body, ctx) => {
    if (body.max_tokens != null && body.max_completion_tokens != null) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["max_completion_tokens"],
        message: "Send max_tokens or max_completion_tokens, not both",
      });
    }
    if (body.stream_options != null && body.stream !== true) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["stream_options"],
        message: "Only allowed with stream: true",
      });
    }
    if (promptChars(body.messages) > LIMITS.maxTotalChars) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["messages"],
        message: `All messages together may have at most ${LIMITS.maxTotalChars} characters`,
      });
    }
  });

export type ChatBody = z.infer<typeof chatBody>;

/** The text of one message (string content or its text parts). */
export function messageText(m: ChatMessage): string {
  return typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join("");
}

/** Characters of all message texts (the prompt estimate counts these). */
export function promptChars(messages: readonly ChatMessage[]): number {
  let chars = 0;
  for (const m of messages) {
    chars += typeof m.content === "string"
      ? m.content.length
      : m.content.reduce((n, p) => n + p.text.length, 0);
  }
  return chars;
}

export const SPEECH_FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"] as const;

/**
 * POST /v1/audio/speech. Passed through: model, input (≤ 4096 characters), voice (allowed per
 * model), response_format, speed. Not accepted: instructions, stream_format.
 */
export const speechBody = z.object({
  model: modelId,
  input: z.string().min(1).max(LIMITS.maxSpeechChars),
  voice: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "Must be a voice name"),
  response_format: z.enum(SPEECH_FORMATS).optional(),
  speed: z.number().min(0.25).max(4).optional(),
}).strict();

export type SpeechBody = z.infer<typeof speechBody>;

/** Every size any image model accepts; each model's own list is in credits.ai_image_prices. */
export const IMAGE_SIZES = [
  "256x256",
  "512x512",
  "1024x1024",
  "1024x1536",
  "1536x1024",
  "1024x1792",
  "1792x1024",
] as const;
export const IMAGE_QUALITIES = ["standard", "hd", "low", "medium", "high"] as const;

/**
 * POST /v1/images/generations. Passed through: model, prompt, n (1..4; per model possibly fewer),
 * size and quality (each model's priced combinations; the model's defaults when omitted —
 * always sent upstream explicitly, so the charged size is the generated one), response_format,
 * style. Not accepted: background, moderation, output_format, output_compression, user.
 */
export const imagesBody = z.object({
  model: modelId,
  prompt: z.string().min(1).max(LIMITS.maxPromptChars),
  n: z.number().int().min(1).max(LIMITS.maxImages).optional(),
  size: z.enum(IMAGE_SIZES).optional(),
  quality: z.enum(IMAGE_QUALITIES).optional(),
  response_format: z.enum(["url", "b64_json"]).optional(),
  style: z.enum(["vivid", "natural"]).optional(),
}).strict();

export type ImagesBody = z.infer<typeof imagesBody>;
