-- =============================================================================
-- Alert outbox (issue 7 "Alerts"). SQL rules and jobs INSERT alerts here (ops.raise_alert);
-- the admin function's POST /admin/alerts/dispatch delivers them to ERROR_ALERT_WEBHOOK /
-- SECURITY_ALERT_WEBHOOK (functions/_shared/alerts) through the two api functions below.
--
-- Delivery is at-least-once:
--   claim   picks due pending alerts FOR UPDATE SKIP LOCKED, counts the attempt and leases them
--           (next_attempt_at = now() + lease): a second dispatcher never sends them concurrently,
--           and a dispatcher that dies mid-send leaves them to be retried when the lease ends.
--   settle  delivered -> status delivered (never sent again); failed -> next_attempt_at with
--           exponential backoff (30 s, 1 min, 2 min, ... capped at 1 h); after alerts.max_attempts
--           attempts -> status dead.
-- Receivers deduplicate by the alert id (sent as X-Tollgate-Alert-Id and in the payload): the
-- only duplicate they can see is a retry of a send whose answer got lost.
-- Creation is deduplicated too: every alert carries a dedup_key (unique), so a rule that keeps
-- firing raises one alert per condition (per run, per anomaly, per hour bucket, ...).
-- =============================================================================

create table ops.alerts (
  id               uuid primary key default gen_random_uuid(),
  created_at       timestamptz not null default now(),
  rule             text not null check (rule ~ '^[a-z0-9_.]{1,64}$'),
  channel          text not null check (channel in ('error', 'security')),
  severity         text not null check (severity in ('info', 'warning', 'critical')),
  title            text not null check (length(title) between 1 and 200),
  message          text not null check (length(message) between 1 and 2000),
  details          jsonb not null default '{}'::jsonb,
  dedup_key        text not null check (length(dedup_key) between 1 and 300),
  status           text not null default 'pending' check (status in ('pending', 'delivered', 'dead')),
  attempts         integer not null default 0 check (attempts >= 0),
  next_attempt_at  timestamptz not null default now(),
  last_error       text check (length(last_error) <= 500),
  delivered_at     timestamptz,
  constraint alerts_dedup_key_unique unique (dedup_key),
  constraint alerts_delivery_shape check ((status = 'delivered') = (delivered_at is not null))
);
comment on table ops.alerts is
  'Alert outbox: one row per alert, delivered at least once by POST /admin/alerts/dispatch (pg_cron + pg_net every minute where pg_net exists). channel error -> ERROR_ALERT_WEBHOOK, security -> SECURITY_ALERT_WEBHOOK (falls back to the error webhook).';
comment on column ops.alerts.id is 'Alert id: sent with every delivery (X-Tollgate-Alert-Id) so receivers drop duplicates.';
comment on column ops.alerts.rule is 'What raised it: reconcile.discrepancy, anomaly.<rule>, generations.low_success_rate, generations.upstream_5xx, errors.internal, cron.failed_run, ...';
comment on column ops.alerts.dedup_key is 'One alert per condition: a rule that fires again with the same key raises nothing new.';
comment on column ops.alerts.next_attempt_at is 'When the dispatcher may (re)try: now for new alerts, lease end while sending, backoff after a failure.';
comment on column ops.alerts.attempts is 'Delivery attempts so far (counted when claimed).';

create index alerts_due_idx on ops.alerts (next_attempt_at) where status = 'pending';
comment on index ops.alerts_due_idx is 'The dispatcher''s claim: pending alerts by due time.';
create index alerts_created_idx on ops.alerts (created_at);
comment on index ops.alerts_created_idx is 'Retention and recent-alert views.';

alter table ops.alerts enable row level security;
revoke all on table ops.alerts from public, anon, authenticated, service_role, tollgate_api;

-- raise ---------------------------------------------------------------------------------------
create function ops.raise_alert(
  p_rule text, p_channel text, p_severity text, p_title text, p_message text,
  p_details jsonb, p_dedup_key text
) returns uuid
language sql
volatile
set search_path = ''
as $$
  insert into ops.alerts (rule, channel, severity, title, message, details, dedup_key)
  values (p_rule, p_channel, p_severity, left(p_title, 200), left(p_message, 2000),
          coalesce(p_details, '{}'::jsonb), left(p_dedup_key, 300))
  on conflict (dedup_key) do nothing
  returning id
$$;
comment on function ops.raise_alert(text, text, text, text, text, jsonb, text) is
  'Queues an alert unless one with the same dedup_key exists; returns its id, or null when deduplicated.';

-- claim / settle (the dispatcher) -------------------------------------------------------------
create function api.alerts_claim(p_limit integer default 50, p_lease_seconds integer default 120)
returns table (
  id uuid, created_at timestamptz, rule text, channel text, severity text, title text,
  message text, details jsonb, attempts integer)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
begin
  perform credits.require(p_limit between 1 and 500, 'limit must be 1..500');
  perform credits.require(p_lease_seconds between 5 and 3600, 'lease must be 5..3600 seconds');
  return query
    with due as (
      select a.id from ops.alerts a
       where a.status = 'pending' and a.next_attempt_at <= now()
       order by a.next_attempt_at, a.created_at
       limit p_limit
         for update skip locked
    )
    update ops.alerts a
       set attempts = a.attempts + 1,
           next_attempt_at = now() + make_interval(secs => p_lease_seconds)
      from due
     where a.id = due.id
    returning a.id, a.created_at, a.rule, a.channel, a.severity, a.title, a.message, a.details, a.attempts;
end
$$;
comment on function api.alerts_claim(integer, integer) is
  'Dispatcher: takes up to p_limit due pending alerts (SKIP LOCKED), counts the attempt and leases them for p_lease_seconds; an alert whose sender dies is retried when the lease ends (at-least-once).';

create function api.alerts_settle(p_id uuid, p_delivered boolean, p_error text default null)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_alert ops.alerts;
  v_max integer := ops.setting_int('alerts.max_attempts', 12);
begin
  select a.* into v_alert from ops.alerts a where a.id = p_id for update;
  if not found then
    raise exception using errcode = 'P0001', message = 'NOT_FOUND', detail = 'ALERT_NOT_FOUND';
  end if;
  if v_alert.status <> 'pending' then
    return v_alert.status; -- already settled (a late answer of a re-leased send): change nothing
  end if;
  if p_delivered then
    update ops.alerts a set status = 'delivered', delivered_at = now(), last_error = null where a.id = p_id;
    return 'delivered';
  end if;
  if v_alert.attempts >= v_max then
    update ops.alerts a set status = 'dead', last_error = left(p_error, 500) where a.id = p_id;
    return 'dead';
  end if;
  update ops.alerts a
     set next_attempt_at = now() + least(interval '1 hour',
                                         make_interval(secs => 30 * power(2, greatest(v_alert.attempts - 1, 0))::double precision)),
         last_error = left(p_error, 500)
   where a.id = p_id;
  return 'pending';
end
$$;
comment on function api.alerts_settle(uuid, boolean, text) is
  'Dispatcher: records the outcome of one delivery. delivered -> never sent again; failed -> retried after 30 s * 2^(attempts-1) (max 1 h), dead after alerts.max_attempts. Returns the new status; an alert that is no longer pending is left unchanged.';

revoke all on function ops.raise_alert(text, text, text, text, text, jsonb, text) from public, anon, authenticated;
revoke all on function api.alerts_claim(integer, integer), api.alerts_settle(uuid, boolean, text)
  from public, anon, authenticated;
grant execute on function api.alerts_claim(integer, integer), api.alerts_settle(uuid, boolean, text) to tollgate_api;
