/**
 * The outbox dispatcher behind POST /admin/alerts/dispatch: claims due alerts from ops.alerts
 * (api.alerts_claim: SKIP LOCKED, attempt counted, leased), delivers each to its channel's
 * webhook (error → ERROR_ALERT_WEBHOOK, security → SECURITY_ALERT_WEBHOOK, falling back to the
 * error webhook) and records the outcome (api.alerts_settle: delivered, or retried later with
 * exponential backoff, or dead after alerts.max_attempts).
 *
 * At-least-once: an alert is marked delivered only after a 2xx; if this isolate dies between
 * the POST and the settle, the lease ends and the alert is sent again — with the same
 * X-Tollgate-Alert-Id, so the receiver drops the duplicate. A delivered alert is never claimed
 * again. Batches run until `limit` alerts or the deadline, so one call stays well inside an
 * Edge Function's wall-clock limit; what is left waits for the next call.
 */
import type { Config } from "../config.ts";
import type { Sql } from "../db/client.ts";
import { ApiError } from "../http/errors.ts";
import type { Logger } from "../log/logger.ts";
import {
  type AlertChannel,
  type AlertPayload,
  type AlertSeverity,
  deliverAlert,
  type DeliveryOptions,
} from "./deliver.ts";
import { type Resolver, validateWebhookUrl, WebhookUrlError } from "./url.ts";

export interface DispatchOptions {
  /** Connected as tollgate_api. */
  sql: Sql;
  config: Pick<
    Config,
    "ENVIRONMENT" | "ERROR_ALERT_WEBHOOK" | "SECURITY_ALERT_WEBHOOK" | "ALERT_SIGNING_SECRET"
  >;
  log?: Pick<Logger, "warn" | "info">;
  /** Most alerts handled by one call (default 100). */
  limit?: number;
  /** Alerts claimed and sent concurrently (default 10). */
  batchSize?: number;
  /** Stop claiming after this many ms (default 20 000). */
  deadlineMs?: number;
  /** Lease on a claimed alert in seconds (default 120). */
  leaseSeconds?: number;
  /** DNS for the webhook URL check (tests). */
  resolve?: Resolver;
  /** Delivery tuning and fetch (tests). */
  delivery?: Omit<DeliveryOptions, "secret">;
}

export interface DispatchReport {
  claimed: number;
  delivered: number;
  /** Failed this time, retried later with backoff. */
  retrying: number;
  /** Failed for the last allowed time. */
  dead: number;
  /** Per channel: why its webhook was refused (alerts of that channel fail until fixed). */
  refusedWebhooks: Partial<Record<AlertChannel, string>>;
}

interface ClaimedAlert {
  id: string;
  created_at: Date;
  rule: string;
  channel: AlertChannel;
  severity: AlertSeverity;
  title: string;
  message: string;
  details: Record<string, unknown> | null;
  attempts: number;
}

type Target = { url: URL } | { refused: string };

export async function dispatchAlerts(options: DispatchOptions): Promise<DispatchReport> {
  const { sql, config } = options;
  const secret = config.ALERT_SIGNING_SECRET;
  if (!secret) {
    throw new ApiError(
      "SERVICE_UNAVAILABLE",
      "Alert delivery is not configured (ALERT_SIGNING_SECRET)",
    );
  }
  const errorHook = config.ERROR_ALERT_WEBHOOK;
  const securityHook = config.SECURITY_ALERT_WEBHOOK ?? errorHook;
  if (!errorHook && !securityHook) {
    // Nothing is claimed: the alerts wait in the outbox (audit.alerts) until a webhook is set.
    throw new ApiError(
      "SERVICE_UNAVAILABLE",
      "Alert delivery is not configured (ERROR_ALERT_WEBHOOK)",
    );
  }

  const targets: Record<AlertChannel, Target> = {
    error: await target(errorHook, options),
    security: await target(securityHook, options),
  };
  const report: DispatchReport = {
    claimed: 0,
    delivered: 0,
    retrying: 0,
    dead: 0,
    refusedWebhooks: {},
  };
  for (const channel of ["error", "security"] as const) {
    const t = targets[channel];
    if ("refused" in t) report.refusedWebhooks[channel] = t.refused;
  }

  const limit = options.limit ?? 100;
  const batchSize = Math.min(options.batchSize ?? 10, limit);
  const deadline = Date.now() + (options.deadlineMs ?? 20_000);
  while (report.claimed < limit && Date.now() < deadline) {
    const size = Math.min(batchSize, limit - report.claimed);
    const batch = await sql<ClaimedAlert[]>`
      select id, created_at, rule, channel, severity, title, message, details, attempts
        from api.alerts_claim(${size}::integer, ${options.leaseSeconds ?? 120}::integer)`;
    if (batch.length === 0) break;
    report.claimed += batch.length;
    const outcomes = await Promise.all(
      batch.map((alert) => sendOne(alert, targets[alert.channel], secret, options)),
    );
    for (const status of outcomes) {
      if (status === "delivered") report.delivered++;
      else if (status === "dead") report.dead++;
      else report.retrying++;
    }
    if (batch.length < size) break;
  }
  if (report.claimed > 0) options.log?.info("alerts dispatched", { ...report });
  return report;
}

async function target(raw: string | undefined, options: DispatchOptions): Promise<Target> {
  if (!raw) return { refused: "not configured" };
  try {
    return {
      url: await validateWebhookUrl(raw, {
        environment: options.config.ENVIRONMENT,
        resolve: options.resolve,
      }),
    };
  } catch (error) {
    if (error instanceof WebhookUrlError) return { refused: error.message };
    throw error;
  }
}

async function sendOne(
  alert: ClaimedAlert,
  target: Target,
  secret: string,
  options: DispatchOptions,
): Promise<string> {
  let delivered = false;
  let error: string | undefined;
  if ("refused" in target) {
    error = `webhook refused: ${target.refused}`;
  } else {
    const payload: AlertPayload = {
      title: alert.title,
      severity: alert.severity,
      message: alert.message,
      timestamp: new Date(alert.created_at).toISOString(),
      environment: options.config.ENVIRONMENT,
      details: {
        ...(alert.details ?? {}),
        alertId: alert.id,
        rule: alert.rule,
        channel: alert.channel,
        attempt: alert.attempts,
      },
    };
    const result = await deliverAlert(target.url, alert.id, payload, {
      ...options.delivery,
      secret,
    });
    delivered = result.ok;
    error = result.error;
  }
  if (!delivered) {
    options.log?.warn("alert delivery failed", { alertId: alert.id, rule: alert.rule, error });
  }
  const [row] = await options.sql<{ status: string }[]>`
    select api.alerts_settle(${alert.id}::uuid, ${delivered}, ${error ?? null}::text) as status`;
  return row.status;
}
