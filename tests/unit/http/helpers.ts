/** Shared fixtures for the HTTP-core unit tests (no database, no network). */
import { type Config, parseConfig } from "../../../functions/_shared/config.ts";
import { createLogger, type Logger } from "../../../functions/_shared/log/logger.ts";

/** A port nothing listens on: bind one, note it, close it. */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

export const BASE_ENV: Record<string, string> = {
  ENVIRONMENT: "development",
  SUPABASE_URL: "http://127.0.0.1:54321",
  TOLLGATE_DB_URL: "postgres://tollgate_api:pw@127.0.0.1:1/postgres",
  CORS_ORIGINS: "https://app.example.com,http://localhost:3000",
};

export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return parseConfig({ ...BASE_ENV, ...overrides });
}

/** A logger whose lines are collected (parsed) instead of printed. */
export function captureLogger(level: Config["LOG_LEVEL"] = "debug"): {
  logger: Logger;
  lines: Record<string, unknown>[];
  raw: string[];
} {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const logger = createLogger({
    level,
    sink: (_level, line) => {
      raw.push(line);
      lines.push(JSON.parse(line));
    },
  });
  return { logger, lines, raw };
}

export async function errorBody(res: Response): Promise<{
  code: string;
  message: string;
  requestId: string;
  details?: Record<string, unknown>;
}> {
  const body = await res.json();
  return body.error;
}
