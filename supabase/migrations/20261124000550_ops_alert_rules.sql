-- =============================================================================
-- Alert rules (issue 7 "Alerts") evaluated by pg_cron every 5 minutes, and the pg_net hook
-- that asks the admin function to deliver the outbox every minute.
--
--   rule                          channel  severity  fires when                          dedup
--   reconcile.discrepancy         error    critical  a reconcile run finds new            per run
--                                                    discrepancies (raised by ops.reconcile)
--   anomaly.<rule>                security warning  a new ops.anomalies row               per anomaly
--                                 (error for global ones)       (raised by ops.detect_anomalies)
--   generations.low_success_rate  error    critical  success rate < alerts.success_rate_min per hour
--                                                    over the last hour with >= min calls
--   generations.server_errors     error    critical  5xx share > alerts.upstream_5xx_max  per hour
--                                                    over the last hour with >= min calls
--   cron.failed_run               error    critical  a pg_cron run failed in the last     per job
--                                                    hour (cron.job_run_details)         per hour
-- =============================================================================

create function ops.evaluate_alerts(p_now timestamptz default now())
returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_raised integer := 0;
  v_hour text := to_char(date_trunc('hour', p_now) at time zone 'UTC', 'YYYY-MM-DD"T"HH24"Z"');
  v_calls bigint;
  v_ok bigint;
  v_5xx bigint;
  v_all bigint;
  v_min_rate numeric := ops.setting_numeric('alerts.success_rate_min', 0.9);
  v_max_5xx numeric := ops.setting_numeric('alerts.upstream_5xx_max', 0.01);
  v_job record;
begin
  -- generations over the last hour: success rate (finished, not refused) and 5xx share
  select count(*) filter (where g.status in ('succeeded', 'partial', 'failed')),
         count(*) filter (where g.status = 'succeeded'),
         count(*) filter (where g.status <> 'refused' and ops.generation_is_server_error(g.upstream_status, g.error_code)),
         count(*) filter (where g.status <> 'refused')
    into v_calls, v_ok, v_5xx, v_all
    from credits.ai_generations g
   where g.created_at > p_now - interval '1 hour' and g.created_at <= p_now;

  if v_calls >= ops.setting_int('alerts.success_rate_min_calls', 20) and v_ok::numeric / v_calls < v_min_rate then
    if ops.raise_alert('generations.low_success_rate', 'error', 'critical',
         format('AI success rate %s%% over the last hour', round(100.0 * v_ok / v_calls, 1)),
         format('%s of %s finished AI calls succeeded in the last hour (threshold %s%%). Check the upstream provider and audit.generation_stats_24h.',
                v_ok, v_calls, round(100 * v_min_rate, 1)),
         jsonb_build_object('calls', v_calls, 'succeeded', v_ok, 'successRate', round(v_ok::numeric / v_calls, 4),
                            'threshold', v_min_rate, 'windowEnd', p_now),
         'generations.low_success_rate:' || v_hour) is not null then
      v_raised := v_raised + 1;
    end if;
  end if;

  if v_all >= ops.setting_int('alerts.upstream_5xx_min_calls', 100) and v_5xx::numeric / v_all > v_max_5xx then
    if ops.raise_alert('generations.server_errors', 'error', 'critical',
         format('5xx rate %s%% over the last hour', round(100.0 * v_5xx / v_all, 2)),
         format('%s of %s AI calls in the last hour ended in a 5xx (upstream 5xx, 502, 503, 504 or 500; threshold %s%%).',
                v_5xx, v_all, round(100 * v_max_5xx, 2)),
         jsonb_build_object('calls', v_all, 'serverErrors', v_5xx, 'rate', round(v_5xx::numeric / v_all, 4),
                            'threshold', v_max_5xx, 'windowEnd', p_now),
         'generations.server_errors:' || v_hour) is not null then
      v_raised := v_raised + 1;
    end if;
  end if;

  -- failed pg_cron runs in the last hour, one alert per job and hour
  for v_job in
    select coalesce(j.jobname, 'job ' || d.jobid) as jobname, count(*) as failures,
           (array_agg(d.return_message order by d.start_time desc))[1] as last_message,
           max(d.start_time) as last_failure
      from cron.job_run_details d
      left join cron.job j on j.jobid = d.jobid
     where d.status = 'failed' and d.start_time > p_now - interval '1 hour' and d.start_time <= p_now
     group by 1
  loop
    if ops.raise_alert('cron.failed_run', 'error', 'critical',
         format('pg_cron job %s failed', v_job.jobname),
         format('%s failed %s time(s) in the last hour; last error: %s. See audit.cron_job_health.',
                v_job.jobname, v_job.failures, left(coalesce(v_job.last_message, '(none)'), 500)),
         jsonb_build_object('job', v_job.jobname, 'failures', v_job.failures, 'lastFailure', v_job.last_failure,
                            'lastMessage', left(v_job.last_message, 500)),
         'cron.failed_run:' || v_job.jobname || ':' || v_hour) is not null then
      v_raised := v_raised + 1;
    end if;
  end loop;
  return v_raised;
end
$$;
comment on function ops.evaluate_alerts(timestamptz) is
  'Alert rules over the last hour ending at p_now (pg_cron every 5 minutes): AI success rate below alerts.success_rate_min, 5xx share above alerts.upstream_5xx_max (each with a minimum number of calls), failed pg_cron runs. One alert per rule (and job) per hour. Returns how many were raised. Reconcile discrepancies and anomalies raise their own.';

-- pg_net hook -----------------------------------------------------------------------------------
-- Supabase: pg_net is available, and the admin secret is kept in Vault:
--   select vault.create_secret('<ADMIN_SECRET>', 'tollgate_admin_secret');
--   update ops.settings set value = to_jsonb('https://<ref>.supabase.co/functions/v1/admin/alerts/dispatch'::text)
--    where key = 'alerts.dispatch_url';
-- Dynamic SQL (names via format, so static checkers skip it): neither net nor vault exists on
-- a plain Postgres (local clusters, CI).
create function ops.dispatch_alerts_via_http()
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  v_url text := ops.setting_text('alerts.dispatch_url', '');
  v_secret text;
  v_request bigint;
begin
  -- Nothing due: no function invocation (the common case, every minute).
  if not exists (select 1 from ops.alerts a where a.status = 'pending' and a.next_attempt_at <= now()) then
    return null;
  end if;
  if not exists (select 1 from pg_catalog.pg_extension e where e.extname = 'pg_net') then
    raise exception using errcode = 'P0001', message = 'PG_NET_MISSING',
      detail = 'pg_net is not installed: call POST /admin/alerts/dispatch with X-Admin-Secret from a scheduler instead';
  end if;
  if v_url !~ '^https://' then
    raise exception using errcode = 'P0001', message = 'ALERTS_DISPATCH_URL_UNSET',
      detail = 'set ops.settings alerts.dispatch_url to the https URL of POST /admin/alerts/dispatch';
  end if;
  if pg_catalog.to_regclass('vault.decrypted_secrets') is not null then
    execute format('select decrypted_secret from %I.%I where name = $1 limit 1', 'vault', 'decrypted_secrets')
       into v_secret using 'tollgate_admin_secret';
  end if;
  if v_secret is null then
    raise exception using errcode = 'P0001', message = 'ADMIN_SECRET_NOT_IN_VAULT',
      detail = 'store the admin secret in Vault: select vault.create_secret(''<ADMIN_SECRET>'', ''tollgate_admin_secret'')';
  end if;
  execute format('select %I.http_post(url := $1, body := $2, headers := $3, timeout_milliseconds := $4)', 'net')
     into v_request
    using v_url, '{}'::jsonb,
          jsonb_build_object('Content-Type', 'application/json', 'X-Admin-Secret', v_secret), 55000;
  return v_request;
end
$$;
comment on function ops.dispatch_alerts_via_http() is
  'pg_cron (every minute, only where pg_net exists): when alerts are due, POSTs to ops.settings alerts.dispatch_url (the admin function''s /admin/alerts/dispatch) with X-Admin-Secret from Vault (tollgate_admin_secret); returns the pg_net request id, or null when nothing was due.';

revoke all on function ops.evaluate_alerts(timestamptz), ops.dispatch_alerts_via_http() from public, anon, authenticated;
