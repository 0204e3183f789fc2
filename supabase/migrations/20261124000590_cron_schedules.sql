-- =============================================================================
-- Every Tollgate pg_cron job, defined in ONE place (issue 7 "pg_cron"). cron.schedule with a
-- job name creates or replaces the job of that name, so this file is re-runnable and a
-- schedule change is an edit here plus a re-run. All times are UTC (pg_cron's clock).
--
--   job                              schedule        what
--   tollgate-expire-holds            * * * * *       api.expire_jobs(): settle holds past expiry
--   tollgate-purge-rate-limits       7 * * * *       ops.rate_limit_purge(): drop full buckets
--   tollgate-purge-idempotency-keys  17 * * * *      api.purge_idempotency_keys(): keys > 24 h
--   tollgate-purge-promo-guard       17 * * * *      ops.promo_guard_purge(): expired promo
--                                                    failure counters and blocks
--   tollgate-ai-settle-stale         * * * * *       api.ai_settle_stale(600): settle (refund)
--                                                    AI calls whose function died mid-call
--   tollgate-reconcile               */15 * * * *    ops.reconcile('incremental')
--   tollgate-reconcile-full          40 3 * * *      ops.reconcile('full')
--   tollgate-detect-anomalies        5 * * * *       ops.detect_anomalies()
--   tollgate-evaluate-alerts         */5 * * * *     ops.evaluate_alerts(): success rate, 5xx, cron
--   tollgate-dispatch-alerts         * * * * *       ops.dispatch_alerts_via_http() -> POST
--                                                    /admin/alerts/dispatch (ONLY where pg_net
--                                                    exists; elsewhere call that route yourself)
--   tollgate-retention               20 4 * * *      ops.retention()
--   tollgate-snapshot                50 2 * * *      call ops.take_snapshot()
-- =============================================================================

select cron.schedule('tollgate-expire-holds', '* * * * *', 'select api.expire_jobs()');
select cron.schedule('tollgate-purge-rate-limits', '7 * * * *', 'select ops.rate_limit_purge()');
select cron.schedule('tollgate-purge-idempotency-keys', '17 * * * *', 'select api.purge_idempotency_keys()');
select cron.schedule('tollgate-purge-promo-guard', '17 * * * *', 'select ops.promo_guard_purge()');
select cron.schedule('tollgate-ai-settle-stale', '* * * * *', 'select api.ai_settle_stale(600)');
select cron.schedule('tollgate-reconcile', '*/15 * * * *', $$select ops.reconcile('incremental')$$);
select cron.schedule('tollgate-reconcile-full', '40 3 * * *', $$select ops.reconcile('full')$$);
select cron.schedule('tollgate-detect-anomalies', '5 * * * *', 'select ops.detect_anomalies()');
select cron.schedule('tollgate-evaluate-alerts', '*/5 * * * *', 'select ops.evaluate_alerts()');
select cron.schedule('tollgate-retention', '20 4 * * *', 'select ops.retention()');
select cron.schedule('tollgate-snapshot', '50 2 * * *', 'call ops.take_snapshot()');

-- Alert dispatch needs HTTP from inside Postgres: pg_net (Supabase ships it). Where the
-- extension can be installed it is, and the job is scheduled; elsewhere (plain Postgres, local
-- clusters, CI) no job exists and something outside calls POST /admin/alerts/dispatch.
do $$
begin
  if exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_net') then
    create extension if not exists pg_net;
    perform cron.schedule('tollgate-dispatch-alerts', '* * * * *', 'select ops.dispatch_alerts_via_http()');
  else
    perform cron.unschedule(j.jobid) from cron.job j where j.jobname = 'tollgate-dispatch-alerts';
    raise notice 'pg_net is not available: tollgate-dispatch-alerts is not scheduled; call POST /admin/alerts/dispatch from a scheduler';
  end if;
end
$$;
