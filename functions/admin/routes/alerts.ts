/**
 * POST /admin/alerts/dispatch — delivers due alerts from the outbox (ops.alerts) to
 * ERROR_ALERT_WEBHOOK / SECURITY_ALERT_WEBHOOK (functions/_shared/alerts/dispatch.ts).
 *
 * Called every minute by pg_cron through pg_net where that exists (Supabase:
 * ops.dispatch_alerts_via_http(), only when something is due), or by any scheduler:
 *   curl -X POST -H "X-Admin-Secret: $ADMIN_SECRET" "$SUPABASE_URL/functions/v1/admin/alerts/dispatch"
 * Answers 200 {claimed, delivered, retrying, dead, refusedWebhooks}; 503 SERVICE_UNAVAILABLE when
 * no webhook or no ALERT_SIGNING_SECRET is configured (nothing is claimed then).
 * Mounted by listing `alertRoutes` in ADMIN_ROUTES (functions/admin/app.ts).
 */
import { dispatchAlerts } from "../../_shared/alerts/dispatch.ts";
import type { AdminRoutes } from "../deps.ts";

export const alertRoutes: AdminRoutes = (app, deps) => {
  app.post("/alerts/dispatch", async (c) => {
    c.set("adminAction", "alerts.dispatch");
    const report = await dispatchAlerts({
      sql: deps.sql(),
      config: deps.config,
      log: c.var.log,
      delivery: { fetch: deps.fetch },
    });
    c.set("adminAudit", {
      claimed: report.claimed,
      delivered: report.delivered,
      retrying: report.retrying,
      dead: report.dead,
    });
    return c.json(report);
  });
};
