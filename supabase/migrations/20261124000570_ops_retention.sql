-- =============================================================================
-- Retention (issue 7): one daily job deletes what is old, each age from ops.settings.
--
--   what                                   older than (setting, default)
--   ops.rate_limit_state                   tat in the past (a full bucket = no row)
--   credits.idempotency_keys               retention.idempotency_hours (24 h)
--   ops.audit_log                          retention.audit_log_days (180 d)
--   ops.error_log                          retention.error_log_days (30 d)
--   ops.alerts (delivered or dead only)    alerts.retention_days (30 d)
--   ops.anomalies                          anomaly.retention_days (90 d)
--   ops.reconcile_runs                     reconcile.run_retention_days (90 d)
--   ops.snapshots (+ chunks)               snapshot.retention_days (7 d)
--   cron.job_run_details                   retention.cron_history_days (14 d)
-- Never touched: the ledger, jobs, accounts (money history is forever), pending alerts,
-- discrepancies (closed by an operator or a full reconcile, kept as the audit trail).
-- =============================================================================

create function ops.retention(p_now timestamptz default now())
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_result jsonb;
begin
  -- One statement: each CTE deletes from its own table, all with the same snapshot; the
  -- rate-limit purge keeps its own function (also scheduled hourly on its own).
  with idempotency_keys as (
      delete from credits.idempotency_keys k
       where k.created_at < p_now - make_interval(hours => ops.setting_int('retention.idempotency_hours', 24))
      returning 1
    ), audit_log as (
      delete from ops.audit_log a where a.at < p_now - make_interval(days => ops.setting_int('retention.audit_log_days', 180))
      returning 1
    ), error_log as (
      delete from ops.error_log e where e.at < p_now - make_interval(days => ops.setting_int('retention.error_log_days', 30))
      returning 1
    ), alerts as (
      delete from ops.alerts a
       where a.status in ('delivered', 'dead')
         and a.created_at < p_now - make_interval(days => ops.setting_int('alerts.retention_days', 30))
      returning 1
    ), anomalies as (
      delete from ops.anomalies a where a.first_seen_at < p_now - make_interval(days => ops.setting_int('anomaly.retention_days', 90))
      returning 1
    ), reconcile_runs as (
      delete from ops.reconcile_runs r
       where r.started_at < p_now - make_interval(days => ops.setting_int('reconcile.run_retention_days', 90))
      returning 1
    ), snapshots as (
      delete from ops.snapshots s where s.taken_at < p_now - make_interval(days => ops.setting_int('snapshot.retention_days', 7))
      returning 1
    ), cron_job_run_details as (
      delete from cron.job_run_details d
       where d.start_time < p_now - make_interval(days => ops.setting_int('retention.cron_history_days', 14))
      returning 1
    )
    select jsonb_build_object(
      'rate_limit_state', ops.rate_limit_purge(p_now),
      'idempotency_keys', (select count(*) from idempotency_keys),
      'audit_log', (select count(*) from audit_log),
      'error_log', (select count(*) from error_log),
      'alerts', (select count(*) from alerts),
      'anomalies', (select count(*) from anomalies),
      'reconcile_runs', (select count(*) from reconcile_runs),
      'snapshots', (select count(*) from snapshots),
      'cron_job_run_details', (select count(*) from cron_job_run_details))
    into v_result;
  return v_result;
end
$$;
comment on function ops.retention(timestamptz) is
  'Daily retention (pg_cron tollgate-retention): deletes expired rate-limit state, idempotency keys, audit/error logs, settled alerts, anomalies, reconcile reports, snapshots and pg_cron history older than their ops.settings ages (relative to p_now). Never touches money tables. Returns the number of rows deleted per table.';

revoke all on function ops.retention(timestamptz) from public, anon, authenticated;
