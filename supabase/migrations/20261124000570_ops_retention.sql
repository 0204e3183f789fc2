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
  v_result jsonb := '{}'::jsonb;
  v_count bigint;
begin
  v_result := v_result || jsonb_build_object('rate_limit_state', ops.rate_limit_purge(p_now));

  delete from credits.idempotency_keys k
   where k.created_at < p_now - make_interval(hours => ops.setting_int('retention.idempotency_hours', 24));
  get diagnostics v_count = row_count;
  v_result := v_result || jsonb_build_object('idempotency_keys', v_count);

  delete from ops.audit_log a where a.at < p_now - make_interval(days => ops.setting_int('retention.audit_log_days', 180));
  get diagnostics v_count = row_count;
  v_result := v_result || jsonb_build_object('audit_log', v_count);

  delete from ops.error_log e where e.at < p_now - make_interval(days => ops.setting_int('retention.error_log_days', 30));
  get diagnostics v_count = row_count;
  v_result := v_result || jsonb_build_object('error_log', v_count);

  delete from ops.alerts a
   where a.status in ('delivered', 'dead')
     and a.created_at < p_now - make_interval(days => ops.setting_int('alerts.retention_days', 30));
  get diagnostics v_count = row_count;
  v_result := v_result || jsonb_build_object('alerts', v_count);

  delete from ops.anomalies a where a.first_seen_at < p_now - make_interval(days => ops.setting_int('anomaly.retention_days', 90));
  get diagnostics v_count = row_count;
  v_result := v_result || jsonb_build_object('anomalies', v_count);

  delete from ops.reconcile_runs r
   where r.started_at < p_now - make_interval(days => ops.setting_int('reconcile.run_retention_days', 90));
  get diagnostics v_count = row_count;
  v_result := v_result || jsonb_build_object('reconcile_runs', v_count);

  delete from ops.snapshots s where s.taken_at < p_now - make_interval(days => ops.setting_int('snapshot.retention_days', 7));
  get diagnostics v_count = row_count;
  v_result := v_result || jsonb_build_object('snapshots', v_count);

  delete from cron.job_run_details d
   where d.start_time < p_now - make_interval(days => ops.setting_int('retention.cron_history_days', 14));
  get diagnostics v_count = row_count;
  v_result := v_result || jsonb_build_object('cron_job_run_details', v_count);

  return v_result;
end
$$;
comment on function ops.retention(timestamptz) is
  'Daily retention (pg_cron tollgate-retention): deletes expired rate-limit state, idempotency keys, audit/error logs, settled alerts, anomalies, reconcile reports, snapshots and pg_cron history older than their ops.settings ages (relative to p_now). Never touches money tables. Returns the number of rows deleted per table.';

revoke all on function ops.retention(timestamptz) from public, anon, authenticated;
