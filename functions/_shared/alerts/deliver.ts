/**
 * One alert to one webhook: a signed JSON POST, retried in-process with exponential backoff
 * (and full jitter) on connection errors, timeouts, 408/425/429 and 5xx. Another 4xx or a
 * redirect is not retried here (redirects are never followed: a public endpoint must not be
 * able to bounce the request into the private network); the outbox retries it later.
 *
 * Payload: { title, severity, message, timestamp, environment, details } — details carries the
 * alert id, rule and channel. Headers: Content-Type, X-Tollgate-Alert-Id (receivers drop
 * duplicates by it: delivery is at-least-once), X-Tollgate-Signature (see signature.ts).
 */
import { ALERT_ID_HEADER, SIGNATURE_HEADER, signatureHeader } from "./signature.ts";

export type AlertSeverity = "info" | "warning" | "critical";
export type AlertChannel = "error" | "security";

/** The webhook body. */
export interface AlertPayload {
  title: string;
  severity: AlertSeverity;
  message: string;
  /** ISO 8601 time the alert was raised. */
  timestamp: string;
  /** ENVIRONMENT of the sender. */
  environment: string;
  details: Record<string, unknown>;
}

export interface DeliveryOptions {
  /** ALERT_SIGNING_SECRET. */
  secret: string;
  /** Outbound HTTP (default: global fetch). */
  fetch?: typeof fetch;
  /** Tries in this call (default 3). */
  attempts?: number;
  /** First backoff in ms, doubled per try, with full jitter (default 500). */
  backoffMs?: number;
  /** Per-try timeout in ms (default 5000). */
  timeoutMs?: number;
  /** Waits between tries (tests replace it). */
  sleep?: (ms: number) => Promise<void>;
}

export interface DeliveryResult {
  ok: boolean;
  /** Tries made. */
  tries: number;
  /** Last HTTP status, if any answer came. */
  status?: number;
  /** Why it failed (no secrets, no response bodies). */
  error?: string;
}

const RETRYABLE = new Set([408, 425, 429]);
const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function deliverAlert(
  url: URL,
  alertId: string,
  payload: AlertPayload,
  options: DeliveryOptions,
): Promise<DeliveryResult> {
  const doFetch = options.fetch ?? fetch;
  const attempts = Math.max(1, options.attempts ?? 3);
  const backoff = options.backoffMs ?? 500;
  const sleep = options.sleep ?? defaultSleep;
  const body = JSON.stringify(payload);
  let last: DeliveryResult = { ok: false, tries: 0 };

  for (let i = 1; i <= attempts; i++) {
    if (i > 1) await sleep(Math.round(Math.random() * backoff * 2 ** (i - 2)));
    let retry = false;
    try {
      const response = await doFetch(url, {
        method: "POST",
        redirect: "manual",
        signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
        headers: {
          "content-type": "application/json",
          "user-agent": "tollgate-alerts/1",
          [ALERT_ID_HEADER]: alertId,
          [SIGNATURE_HEADER]: await signatureHeader(options.secret, body, Date.now() / 1000),
        },
        body,
      });
      await response.body?.cancel();
      if (response.status >= 200 && response.status < 300) {
        return { ok: true, tries: i, status: response.status };
      }
      retry = response.status >= 500 || RETRYABLE.has(response.status);
      last = { ok: false, tries: i, status: response.status, error: `HTTP ${response.status}` };
    } catch (error) {
      const name = error instanceof Error ? error.name : "Error";
      retry = true;
      last = {
        ok: false,
        tries: i,
        error: name === "TimeoutError" ? "timeout" : `connection failed (${name})`,
      };
    }
    if (!retry) break;
  }
  return last;
}
