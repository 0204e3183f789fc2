/**
 * ai: the OpenAI-compatible proxy (issue 5), paid in credits by job or one-shot.
 *   POST /ai/v1/chat/completions    chat, JSON or SSE stream       routes/chat.ts
 *   POST /ai/v1/audio/speech        audio bytes streamed through   routes/speech.ts
 *   POST /ai/v1/images/generations  images                         routes/images.ts
 *   GET  /ai/v1/models[/:id]        allowed models and prices      routes/models.ts
 * Every route needs a user token (auth()). A paid call makes two SQL round trips (api.ai_begin,
 * api.ai_settle); the provider key (OPENAI_API_KEY) never leaves this function.
 */
import type { Hono } from "hono";
import { auth, type AuthEnv, verifierFor } from "../_shared/auth/middleware/index.ts";
import { type Config, getConfig, requireConfig } from "../_shared/config.ts";
import { getSql, type Sql } from "../_shared/db/client.ts";
import { createBaseApp } from "../_shared/http/app.ts";
import type { AppEnv } from "../_shared/http/types.ts";
import type { Logger } from "../_shared/log/logger.ts";
import type { UpstreamClient } from "../_shared/upstream/mod.ts";
import { type AiDeps, aiPolicies, aiSettings, createUpstream } from "./deps.ts";
import { registerChat } from "./routes/chat.ts";
import { registerImages } from "./routes/images.ts";
import { registerModels } from "./routes/models.ts";
import { registerSpeech } from "./routes/speech.ts";
import { cachingVerifier } from "./token_cache.ts";
import { authFailureGuard } from "../_shared/ratelimit/unauthenticated.ts";

export interface AiAppOptions {
  config?: Config;
  logger?: Logger;
  /** Database client (default: the isolate's shared getSql()). */
  sql?: Sql;
  /** Provider client (default: built from the OPENAI_* settings; owns the breaker). */
  upstream?: UpstreamClient;
}

export function createApp(options: AiAppOptions = {}): Hono<AppEnv> {
  const config = options.config ?? getConfig();
  const app = createBaseApp("ai", { config, logger: options.logger });
  const deps: AiDeps = {
    config,
    sql: () => options.sql ?? getSql(config),
    upstream: options.upstream ?? createUpstream(requireConfig(config, ["OPENAI_API_KEY"])),
    policies: aiPolicies(config),
    settings: aiSettings(config),
  };
  const authed = app as unknown as Hono<AuthEnv>;
  // 401s (bad JWT, bad job token) pay for the per-IP "unauthenticated" limit and are audited.
  app.use("*", authFailureGuard({ sql: deps.sql }));
  // Verified tokens are cached for a minute: see token_cache.ts.
  authed.use("*", auth({ verifier: cachingVerifier(verifierFor(config)) }));
  registerChat(authed, deps);
  registerSpeech(authed, deps);
  registerImages(authed, deps);
  registerModels(authed, deps);
  return app;
}
