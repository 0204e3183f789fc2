-- =============================================================================
-- Operations settings (issue 7): one table of tunables for reconciliation, anomaly rules,
-- alert rules, retention and snapshots, so an operator changes a threshold with one UPDATE
-- instead of a migration. Values are jsonb scalars; ops.setting_* read them with a fallback,
-- so a deleted row never breaks a cron job.
--
--   update ops.settings set value = '30' where key = 'retention.error_log_days';
-- =============================================================================

create table ops.settings (
  key         text primary key check (key ~ '^[a-z][a-z0-9_.]{1,80}$'),
  value       jsonb not null,
  description text not null,
  updated_at  timestamptz not null default now()
);
comment on table ops.settings is
  'Operator tunables of the ops jobs (reconcile, anomalies, alerts, retention, snapshots). Change with UPDATE; read by ops.setting_int/ops.setting_numeric/ops.setting_text with a fallback. Holds no secrets.';
comment on column ops.settings.value is 'A jsonb scalar (number or string).';

alter table ops.settings enable row level security;
revoke all on table ops.settings from public, anon, authenticated, service_role, tollgate_api;

insert into ops.settings (key, value, description) values
  ('reconcile.id_lookback', '1000', 'Incremental reconcile rescans this many ledger ids below the last watermark, to catch rows of transactions that were still open when the previous run looked.'),
  ('reconcile.run_retention_days', '90', 'Reconcile run reports are kept this many days.'),
  ('anomaly.spend_factor', '5', 'spend_spike: last-24 h spend must exceed this multiple of the account''s median daily spend (active days of the previous 14).'),
  ('anomaly.spend_min_credits', '100', 'spend_spike: and be at least this many credits.'),
  ('anomaly.spend_min_active_days', '3', 'spend_spike: the account needs this many active days of history.'),
  ('anomaly.promo_failures_per_hour', '10', 'promo_failure_burst: promo failures in the last hour from one IP hash, device or account.'),
  ('anomaly.accounts_per_device', '5', 'accounts_per_device: distinct accounts seen on one device in 7 days.'),
  ('anomaly.devices_per_account', '5', 'devices_per_account: distinct devices used by one account in 7 days.'),
  ('anomaly.auth_failures_per_hour', '30', 'auth_failure_burst: 401s (audit action auth.failed) from one IP hash in the last hour.'),
  ('anomaly.refund_rate', '0.5', 'refund_rate_spike: share of an account''s (or all) generations refunded in the window.'),
  ('anomaly.refund_min_calls', '10', 'refund_rate_spike: minimum generations in the window before the rate counts.'),
  ('anomaly.refund_global_factor', '3', 'refund_rate_spike (global): last-hour refund rate must exceed this multiple of the 7-day rate ...'),
  ('anomaly.refund_global_min_rate', '0.1', 'refund_rate_spike (global): ... and at least this rate.'),
  ('anomaly.expired_unused_holds_per_day', '5', 'expired_unused_holds: jobs of one account that expired with nothing spent in 24 h.'),
  ('anomaly.retention_days', '90', 'Anomaly rows are kept this many days.'),
  ('alerts.success_rate_min', '0.9', 'low_success_rate: alert when the last hour''s generation success rate is below this.'),
  ('alerts.success_rate_min_calls', '20', 'low_success_rate: only with at least this many generations in the hour.'),
  ('alerts.upstream_5xx_max', '0.01', 'upstream_5xx: alert when more than this share of the last hour''s generations got an upstream 5xx.'),
  ('alerts.upstream_5xx_min_calls', '100', 'upstream_5xx: only with at least this many generations in the hour.'),
  ('alerts.max_attempts', '12', 'Deliveries of one alert before it is marked dead.'),
  ('alerts.retention_days', '30', 'Delivered and dead alerts are kept this many days.'),
  ('alerts.environment', '"production"', 'The environment name put into alert payloads by the dispatcher when the database is asked (functions send their ENVIRONMENT).'),
  ('alerts.dispatch_url', '""', 'Full URL of POST /admin/alerts/dispatch for pg_cron + pg_net, e.g. https://<ref>.supabase.co/functions/v1/admin/alerts/dispatch. The admin secret comes from Vault (secret name tollgate_admin_secret).'),
  ('retention.audit_log_days', '180', 'ops.audit_log rows older than this are deleted by the daily retention job.'),
  ('retention.error_log_days', '30', 'ops.error_log rows older than this are deleted by the daily retention job.'),
  ('retention.idempotency_hours', '24', 'credits.idempotency_keys older than this are deleted (hourly and daily).'),
  ('retention.cron_history_days', '14', 'cron.job_run_details rows older than this are deleted (pg_cron never deletes them itself).'),
  ('snapshot.retention_days', '7', 'Daily money-table snapshots older than this are deleted.'),
  ('snapshot.exclude_tables', '"idempotency_keys,ai_generations"', 'Comma-separated credits tables left out of the daily snapshot (transient keys, the AI call log).'),
  ('snapshot.chunk_rows', '50000', 'Rows per compressed snapshot chunk (keeps every value far below the 1 GB field limit).');

-- Readers. Plain SQL, stable: a missing or malformed value falls back to the default.
create function ops.setting_text(p_key text, p_default text)
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce((select s.value #>> '{}' from ops.settings s where s.key = p_key), p_default)
$$;
comment on function ops.setting_text(text, text) is 'The setting as text, or p_default when it is missing.';

create function ops.setting_numeric(p_key text, p_default numeric)
returns numeric
language sql
stable
set search_path = ''
as $$
  select coalesce(
    (select case when jsonb_typeof(s.value) = 'number' then (s.value #>> '{}')::numeric end
       from ops.settings s where s.key = p_key),
    p_default)
$$;
comment on function ops.setting_numeric(text, numeric) is 'The setting as a number, or p_default when it is missing or not a number.';

create function ops.setting_int(p_key text, p_default integer)
returns integer
language sql
stable
set search_path = ''
as $$
  select ops.setting_numeric(p_key, p_default)::integer
$$;
comment on function ops.setting_int(text, integer) is 'The setting rounded to an integer, or p_default when it is missing or not a number.';

revoke all on function ops.setting_text(text, text), ops.setting_numeric(text, numeric), ops.setting_int(text, integer)
  from public, anon, authenticated;
