-- =============================================================================
-- Anomaly detection (issue 7): rules that turn suspicious patterns into rows of ops.anomalies.
-- pg_cron runs ops.detect_anomalies() hourly; every NEW row raises an alert (rule anomaly.<rule>).
-- Thresholds live in ops.settings (anomaly.*). Each row names its rule, the subject (account,
-- device, ip_hash or global), what was observed and the threshold it crossed.
--
--   rule                  subject   window  fires when
--   spend_spike           account   24 h    credits charged > spend_factor x the account's median
--                                           daily spend (active days of the 14 before) and
--                                           >= spend_min_credits, with >= spend_min_active_days
--   promo_failure_burst   ip_hash,  1 h     >= promo_failures_per_hour promo failures (audit
--                         device,           actions promo.failed / promo.blocked)
--                         account
--   accounts_per_device   device    7 d     >= accounts_per_device accounts used one device
--   devices_per_account   account   7 d     >= devices_per_account devices used by one account
--                                           (devices seen on jobs and in the audit log)
--   auth_failure_burst    ip_hash   1 h     >= auth_failures_per_hour 401s (audit auth.failed)
--   refund_rate_spike     account   24 h    >= refund_min_calls calls and a refunded share
--                                           >= refund_rate
--                         global    1 h     >= refund_min_calls calls and a refunded share
--                                           >= max(refund_global_factor x the share of the
--                                           7 days before, refund_global_min_rate)
--   expired_unused_holds  account   24 h    >= expired_unused_holds_per_day jobs expired with
--                                           nothing spent (holding credits it never uses)
--
-- One row per (rule, subject, bucket): the bucket is the hour (1 h windows) or the day (longer
-- windows) of detection, so an ongoing pattern is one row per bucket (last_seen_at and observed
-- are updated when it is seen again) and one alert, not one per run.
-- =============================================================================

create table ops.anomalies (
  id             bigint generated always as identity primary key,
  rule           text not null check (rule in ('spend_spike', 'promo_failure_burst', 'accounts_per_device',
                   'devices_per_account', 'auth_failure_burst', 'refund_rate_spike', 'expired_unused_holds')),
  subject_type   text not null check (subject_type in ('account', 'device', 'ip_hash', 'global')),
  subject        text not null check (length(subject) between 1 and 200),
  bucket         timestamptz not null,
  window_start   timestamptz not null,
  window_end     timestamptz not null,
  observed       numeric not null,
  threshold      numeric not null,
  details        jsonb not null default '{}'::jsonb,
  first_seen_at  timestamptz not null default now(),
  last_seen_at   timestamptz not null default now(),
  alert_id       uuid,
  constraint anomalies_one_per_bucket unique (rule, subject_type, subject, bucket)
);
comment on table ops.anomalies is
  'Suspicious activity found by ops.detect_anomalies (hourly): rule, subject (account id, device id, HMACed IP or global), the window, what was observed and the threshold crossed. One row per rule, subject and hour/day bucket.';
comment on column ops.anomalies.bucket is 'Hour (1 h rules) or day (24 h / 7 d rules) of detection: the deduplication unit.';
comment on column ops.anomalies.observed is 'The measured value (credits, count or rate).';
comment on column ops.anomalies.alert_id is 'The alert raised when the row was created.';
create index anomalies_first_seen_idx on ops.anomalies (first_seen_at desc);
comment on index ops.anomalies_first_seen_idx is 'Recent anomalies first (audit view, retention).';

alter table ops.anomalies enable row level security;
revoke all on table ops.anomalies from public, anon, authenticated, service_role, tollgate_api;

-- The rules as one query (plain SQL: easy to read, explain and test). p_now is the end of every
-- window; tests pass it to place synthetic traffic.
create function ops.anomaly_candidates(p_now timestamptz default now())
returns table (
  rule text, subject_type text, subject text, bucket timestamptz, window_start timestamptz,
  observed numeric, threshold numeric, details jsonb)
language sql
stable
set search_path = ''
as $$
  with cfg as (
    select ops.setting_numeric('anomaly.spend_factor', 5) as spend_factor,
           ops.setting_numeric('anomaly.spend_min_credits', 100) as spend_min,
           ops.setting_int('anomaly.spend_min_active_days', 3) as spend_days,
           ops.setting_int('anomaly.promo_failures_per_hour', 10) as promo_max,
           ops.setting_int('anomaly.accounts_per_device', 5) as accounts_per_device,
           ops.setting_int('anomaly.devices_per_account', 5) as devices_per_account,
           ops.setting_int('anomaly.auth_failures_per_hour', 30) as auth_max,
           ops.setting_numeric('anomaly.refund_rate', 0.5) as refund_rate,
           ops.setting_int('anomaly.refund_min_calls', 10) as refund_calls,
           ops.setting_numeric('anomaly.refund_global_factor', 3) as refund_factor,
           ops.setting_numeric('anomaly.refund_global_min_rate', 0.1) as refund_global_min,
           ops.setting_int('anomaly.expired_unused_holds_per_day', 5) as holds_max,
           date_trunc('hour', p_now) as hour_bucket,
           date_trunc('day', p_now) as day_bucket
  ),
  -- spend_spike ---------------------------------------------------------------------------
  recent_spend as (
    select g.account_id, sum(g.credits_charged) as spent
      from credits.ai_generations g, cfg
     where g.created_at > p_now - interval '24 hours' and g.created_at <= p_now and g.credits_charged > 0
     group by g.account_id
    having sum(g.credits_charged) >= min(cfg.spend_min)
  ),
  spend_history as (
    select r.account_id, r.spent,
           percentile_cont(0.5) within group (order by d.day_spent) as median_daily,
           count(*) as active_days
      from recent_spend r
      cross join lateral (
        select date_trunc('day', g.created_at) as day, sum(g.credits_charged) as day_spent
          from credits.ai_generations g
         where g.account_id = r.account_id and g.credits_charged > 0
           and g.created_at > p_now - interval '15 days' and g.created_at <= p_now - interval '24 hours'
         group by 1) d
     group by r.account_id, r.spent
  ),
  spend_spike as (
    select 'spend_spike'::text as rule, 'account'::text as subject_type, h.account_id::text as subject,
           cfg.day_bucket as bucket, p_now - interval '24 hours' as window_start,
           h.spent::numeric as observed, greatest(cfg.spend_factor * h.median_daily::numeric, cfg.spend_min) as threshold,
           jsonb_build_object('medianDailySpend', h.median_daily, 'activeDays', h.active_days) as details
      from spend_history h, cfg
     where h.active_days >= cfg.spend_days and h.spent > cfg.spend_factor * h.median_daily::numeric
  ),
  -- promo_failure_burst -------------------------------------------------------------------
  promo_failures as (
    select s.subject_type, s.subject, count(*) as failures
      from ops.audit_log a
     cross join lateral (values ('ip_hash', a.ip_hash), ('device', a.device_id), ('account', a.account_id::text)) s(subject_type, subject)
     where a.category = 'security' and a.action in ('promo.failed', 'promo.blocked')
       and a.at > p_now - interval '1 hour' and a.at <= p_now and s.subject is not null
     group by s.subject_type, s.subject
  ),
  promo_burst as (
    select 'promo_failure_burst', f.subject_type, f.subject, cfg.hour_bucket, p_now - interval '1 hour',
           f.failures::numeric, cfg.promo_max::numeric, '{}'::jsonb
      from promo_failures f, cfg
     where f.failures >= cfg.promo_max
  ),
  -- accounts per device / devices per account -----------------------------------------------
  device_pairs as (
    select j.device_id, j.account_id from credits.jobs j
     where j.device_id is not null and j.created_at > p_now - interval '7 days' and j.created_at <= p_now
    union
    select a.device_id, a.account_id from ops.audit_log a
     where a.device_id is not null and a.account_id is not null
       and a.at > p_now - interval '7 days' and a.at <= p_now
  ),
  per_device as (
    select 'accounts_per_device', 'device', p.device_id, cfg.day_bucket, p_now - interval '7 days',
           count(distinct p.account_id)::numeric, min(cfg.accounts_per_device)::numeric,
           jsonb_build_object('accounts', (array_agg(distinct p.account_id))[1:20])
      from device_pairs p, cfg
     group by p.device_id, cfg.day_bucket
    having count(distinct p.account_id) >= min(cfg.accounts_per_device)
  ),
  per_account as (
    select 'devices_per_account', 'account', p.account_id::text, cfg.day_bucket, p_now - interval '7 days',
           count(distinct p.device_id)::numeric, min(cfg.devices_per_account)::numeric,
           jsonb_build_object('devices', (array_agg(distinct p.device_id))[1:20])
      from device_pairs p, cfg
     group by p.account_id, cfg.day_bucket
    having count(distinct p.device_id) >= min(cfg.devices_per_account)
  ),
  -- auth_failure_burst ----------------------------------------------------------------------
  auth_burst as (
    select 'auth_failure_burst', 'ip_hash', a.ip_hash, cfg.hour_bucket, p_now - interval '1 hour',
           count(*)::numeric, min(cfg.auth_max)::numeric, '{}'::jsonb
      from ops.audit_log a, cfg
     where a.category = 'security' and a.action = 'auth.failed' and a.ip_hash is not null
       and a.at > p_now - interval '1 hour' and a.at <= p_now
     group by a.ip_hash, cfg.hour_bucket
    having count(*) >= min(cfg.auth_max)
  ),
  -- refund_rate_spike -----------------------------------------------------------------------
  -- a call "got a refund" when it failed or broke (partial) and kept less than it reserved
  finished as (
    select g.account_id, g.created_at,
           (g.status in ('failed', 'partial') and g.credits_charged < g.credits_reserved) as refunded
      from credits.ai_generations g
     where g.status in ('succeeded', 'partial', 'failed') and g.credits_reserved > 0
       and g.created_at > p_now - interval '7 days' and g.created_at <= p_now
  ),
  refund_account as (
    select 'refund_rate_spike', 'account', f.account_id::text, cfg.day_bucket, p_now - interval '24 hours',
           round(avg(f.refunded::int), 4), min(cfg.refund_rate),
           jsonb_build_object('calls', count(*), 'refunded', count(*) filter (where f.refunded))
      from finished f, cfg
     where f.created_at > p_now - interval '24 hours'
     group by f.account_id, cfg.day_bucket
    having count(*) >= min(cfg.refund_calls) and avg(f.refunded::int) >= min(cfg.refund_rate)
  ),
  refund_global_stats as (
    select count(*) filter (where f.created_at > p_now - interval '1 hour') as calls_1h,
           avg(f.refunded::int) filter (where f.created_at > p_now - interval '1 hour') as rate_1h,
           coalesce(avg(f.refunded::int) filter (where f.created_at <= p_now - interval '1 hour'), 0) as rate_7d
      from finished f
  ),
  refund_global as (
    select 'refund_rate_spike', 'global', 'all', cfg.hour_bucket, p_now - interval '1 hour',
           round(s.rate_1h, 4), round(greatest(cfg.refund_factor * s.rate_7d, cfg.refund_global_min), 4),
           jsonb_build_object('calls', s.calls_1h, 'rate7d', round(s.rate_7d, 4))
      from refund_global_stats s, cfg
     where s.calls_1h >= cfg.refund_calls and s.rate_1h >= greatest(cfg.refund_factor * s.rate_7d, cfg.refund_global_min)
  ),
  -- expired_unused_holds --------------------------------------------------------------------
  unused_holds as (
    select 'expired_unused_holds', 'account', j.account_id::text, cfg.day_bucket, p_now - interval '24 hours',
           count(*)::numeric, min(cfg.holds_max)::numeric,
           jsonb_build_object('creditsHeld', sum(j.amount))
      from credits.jobs j, cfg
     where j.status = 'expired' and j.spent = 0
       and j.settled_at > p_now - interval '24 hours' and j.settled_at <= p_now
     group by j.account_id, cfg.day_bucket
    having count(*) >= min(cfg.holds_max)
  )
  select * from spend_spike
  union all select * from promo_burst
  union all select * from per_device
  union all select * from per_account
  union all select * from auth_burst
  union all select * from refund_account
  union all select * from refund_global
  union all select * from unused_holds
$$;
comment on function ops.anomaly_candidates(timestamptz) is
  'Evaluates every anomaly rule for windows ending at p_now and returns what crosses a threshold (nothing is written). ops.detect_anomalies records the rows.';

create function ops.detect_anomalies(p_now timestamptz default now())
returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_new record;
  v_count integer := 0;
  v_alert uuid;
begin
  for v_new in
    insert into ops.anomalies as a (rule, subject_type, subject, bucket, window_start, window_end, observed, threshold, details)
    select c.rule, c.subject_type, c.subject, c.bucket, c.window_start, p_now, c.observed, c.threshold, c.details
      from ops.anomaly_candidates(p_now) c
    on conflict (rule, subject_type, subject, bucket) do update
      set last_seen_at = now(), window_end = excluded.window_end,
          observed = greatest(a.observed, excluded.observed), details = excluded.details
    returning a.id, a.rule, a.subject_type, a.subject, a.observed, a.threshold, a.window_start, a.window_end, a.details,
              (a.xmax = 0) as inserted
  loop
    continue when not v_new.inserted;
    v_count := v_count + 1;
    v_alert := ops.raise_alert(
      'anomaly.' || v_new.rule,
      case when v_new.subject_type = 'global' then 'error' else 'security' end,
      'warning',
      format('Anomaly: %s (%s %s)', v_new.rule, v_new.subject_type, left(v_new.subject, 40)),
      format('%s for %s %s: observed %s, threshold %s, window %s .. %s. See audit.anomalies.',
             v_new.rule, v_new.subject_type, v_new.subject, v_new.observed, v_new.threshold,
             v_new.window_start, v_new.window_end),
      jsonb_build_object('anomalyId', v_new.id, 'rule', v_new.rule, 'subjectType', v_new.subject_type,
                         'subject', v_new.subject, 'observed', v_new.observed, 'threshold', v_new.threshold)
        || v_new.details,
      'anomaly:' || v_new.id);
    update ops.anomalies a set alert_id = v_alert where a.id = v_new.id;
  end loop;
  return v_count;
end
$$;
comment on function ops.detect_anomalies(timestamptz) is
  'Records the anomaly rules'' findings for windows ending at p_now (pg_cron hourly): new rows raise an alert each (anomaly.<rule>; channel security, global ones error); a finding already recorded in its hour/day bucket only updates last_seen_at. Returns the number of new anomalies.';

revoke all on function ops.anomaly_candidates(timestamptz), ops.detect_anomalies(timestamptz)
  from public, anon, authenticated;
