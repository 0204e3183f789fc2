-- Rate limiting (issue 6): GCRA state in Postgres, decided inside the same SQL round trip as the
-- rest of a request's authorisation (api.* hot-path functions call ops.rate_limit_take/require).
--
-- Algorithm: GCRA (generic cell rate algorithm). A policy "quota per window" has emission interval
-- T = window / quota and burst tolerance window - T, so at most `quota` requests are admitted at
-- once and then one more every T. Unlike a fixed window there is no 2x burst at a window edge:
-- the state is one "theoretical arrival time" (tat) per key, and a request of cost c is admitted
-- iff (max(tat, now) + c*T) - now <= window.
--
-- Exactness under concurrency: every take upserts the single (policy, key) row, which takes that
-- row's lock; concurrent callers for the same key queue on it and each sees its predecessor's tat.
-- No table or advisory locks, different keys never wait for each other. When one transaction takes
-- several keys (e.g. account and device) take them in a fixed order to avoid deadlocks.
--
-- Durability: the table is UNLOGGED on purpose. It is not WAL-logged (cheap writes on the hot path)
-- and is truncated after a crash or failover, so all limits reset then -- acceptable: it only
-- grants every key one fresh burst. It is also not replicated to read replicas (never read there).

create unlogged table if not exists ops.rate_limit_state (
  policy text not null check (char_length(policy) between 1 and 64),
  key text not null check (char_length(key) between 1 and 256),
  tat timestamptz not null,
  emission_interval_us bigint not null check (emission_interval_us > 0),
  primary key (policy, key)
) with (fillfactor = 70); -- room for HOT updates: every take rewrites its row

comment on table ops.rate_limit_state is
  'GCRA rate-limit state, one row per (policy, key). UNLOGGED: emptied after a crash, so limits reset then (acceptable). Rows whose tat lies in the past equal a full bucket and are purged hourly.';
comment on column ops.rate_limit_state.policy is 'Policy name, e.g. chat, jobs.start, promo.device (the name sent in the RateLimit headers).';
comment on column ops.rate_limit_state.key is 'Who is limited: "account:<uuid>", "device:<hmac>", "ip:<hmac>". Never a raw IP address.';
comment on column ops.rate_limit_state.tat is 'Theoretical arrival time: the bucket is full again at tat; a request of cost c fits iff max(tat, now) + c*T - now <= window.';
comment on column ops.rate_limit_state.emission_interval_us is 'T = window/quota in microseconds as of the last take; used by ops.rate_limit_refund.';

alter table ops.rate_limit_state enable row level security;
revoke all on table ops.rate_limit_state from public, anon, authenticated, service_role, tollgate_api;

-- Microseconds from b to a, exact (extract(epoch ...) is numeric since PG 14).
create or replace function ops.rate_limit_us_between(p_a timestamptz, p_b timestamptz)
returns bigint
language sql
immutable
strict
parallel safe
set search_path = ''
as $$
  select (extract(epoch from (p_a - p_b)) * 1000000)::bigint
$$;
comment on function ops.rate_limit_us_between(timestamptz, timestamptz) is
  'Exact number of microseconds from p_b to p_a (negative when p_a is earlier). Helper of the GCRA functions.';

create or replace function ops.rate_limit_take(
  p_policy text,
  p_key text,
  p_quota integer,
  p_window_seconds integer,
  p_cost integer default 1,
  p_now timestamptz default null
)
returns table (allowed boolean, remaining integer, reset_seconds integer, retry_after_seconds integer)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_window_us bigint;
  v_interval_us bigint;
  v_now timestamptz;
  v_tat timestamptz;
  v_base timestamptz;
  v_new_tat timestamptz;
  v_ahead_us bigint;
  v_wait_us bigint;
begin
  if p_policy is null or char_length(p_policy) not between 1 and 64 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = 'rate limit policy must be 1..64 characters';
  end if;
  if p_key is null or char_length(p_key) not between 1 and 256 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = 'rate limit key must be 1..256 characters';
  end if;
  if p_window_seconds is null or p_window_seconds not between 1 and 604800 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = 'rate limit window must be 1..604800 seconds';
  end if;
  -- quota^2 <= window in microseconds keeps T's rounding to whole microseconds small enough that
  -- quota requests always fit and quota + 1 never do (e.g. 1000/s, 60000/min at most).
  if p_quota is null or p_quota < 1
     or p_quota::bigint * p_quota > p_window_seconds::bigint * 1000000 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = 'rate limit quota must be >= 1 and quota^2 <= window in microseconds';
  end if;
  if p_cost is null or p_cost not between 1 and p_quota then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = 'rate limit cost must be between 1 and the quota';
  end if;

  v_window_us := p_window_seconds::bigint * 1000000;
  v_interval_us := v_window_us / p_quota; -- rounded down: quota * T <= window always

  -- Take the row lock of this one key (creating the row if absent). On conflict the update is
  -- what locks; concurrent takers queue here. A concurrent purge is handled by the upsert itself.
  insert into ops.rate_limit_state as s (policy, key, tat, emission_interval_us)
  values (p_policy, p_key, '-infinity', v_interval_us)
  on conflict (policy, key) do update set emission_interval_us = excluded.emission_interval_us
  returning s.tat into v_tat;

  -- Read the clock after the lock: a caller that waited must not use its pre-wait time.
  v_now := coalesce(p_now, pg_catalog.clock_timestamp());
  -- A tat further ahead than one window (left by a policy that was since tightened) is capped.
  v_base := least(greatest(v_tat, v_now), v_now + p_window_seconds * interval '1 second');
  v_new_tat := v_base + (p_cost::bigint * v_interval_us) * interval '1 microsecond';

  if ops.rate_limit_us_between(v_new_tat, v_now) <= v_window_us then
    update ops.rate_limit_state as s set tat = v_new_tat
    where s.policy = p_policy and s.key = p_key;
    allowed := true;
    v_ahead_us := ops.rate_limit_us_between(v_new_tat, v_now);
  else
    allowed := false;
    v_ahead_us := ops.rate_limit_us_between(v_base, v_now);
  end if;

  remaining := greatest(0, (v_window_us - v_ahead_us) / v_interval_us)::integer;
  reset_seconds := ceil(v_ahead_us / 1000000.0)::integer;
  if allowed and remaining > 0 then
    retry_after_seconds := 0;
  else
    -- Until the next request fits: cost 1 after an admitted call, this cost after a denied one.
    v_wait_us := v_ahead_us + (case when allowed then 1 else p_cost end) * v_interval_us - v_window_us;
    retry_after_seconds := greatest(1, ceil(v_wait_us / 1000000.0))::integer;
  end if;
  return next;
end
$$;

comment on function ops.rate_limit_take(text, text, integer, integer, integer, timestamptz) is
  'GCRA take: admits at most p_quota requests per p_window_seconds for (p_policy, p_key), exact under concurrency (row lock on that key only). Returns allowed; remaining = how many more cost-1 requests fit now; reset_seconds = until the bucket is full again (RateLimit t); retry_after_seconds = 0 if another request fits now, else seconds (>= 1, rounded up) until one does. A denied take changes nothing. p_now is for tests only; callers use the clock. Composable from api.* functions in the same round trip.';

create or replace function ops.rate_limit_require(
  p_policy text,
  p_key text,
  p_quota integer,
  p_window_seconds integer,
  p_cost integer default 1
)
returns table (allowed boolean, remaining integer, reset_seconds integer, retry_after_seconds integer)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v record;
begin
  select * into v from ops.rate_limit_take(p_policy, p_key, p_quota, p_window_seconds, p_cost);
  if not v.allowed then
    raise exception using errcode = 'P0001', message = 'RATE_LIMITED',
      detail = pg_catalog.json_build_object(
        'policy', p_policy, 'quota', p_quota, 'window', p_window_seconds,
        'remaining', v.remaining, 'reset', v.reset_seconds, 'retry_after', v.retry_after_seconds
      )::text,
      hint = 'Too many requests; retry after the number of seconds in retry_after.';
  end if;
  allowed := v.allowed;
  remaining := v.remaining;
  reset_seconds := v.reset_seconds;
  retry_after_seconds := v.retry_after_seconds;
  return next;
end
$$;

comment on function ops.rate_limit_require(text, text, integer, integer, integer) is
  'Like ops.rate_limit_take but raises P0001 RATE_LIMITED when denied, with detail = JSON {policy, quota, window, remaining, reset, retry_after} (everything needed for the RateLimit/Retry-After headers). For api.* hot-path functions that must stop before doing anything else.';

create or replace function ops.rate_limit_refund(
  p_policy text,
  p_key text,
  p_cost integer default 1,
  p_now timestamptz default null
)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.clock_timestamp());
begin
  if p_cost is null or p_cost < 1 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = 'rate limit refund cost must be >= 1';
  end if;
  -- Give back p_cost tokens: move tat back by cost*T, never below now (a full bucket stays full).
  update ops.rate_limit_state as s
  set tat = greatest(s.tat - (p_cost::bigint * s.emission_interval_us) * interval '1 microsecond', v_now)
  where s.policy = p_policy and s.key = p_key and s.tat > v_now;
end
$$;

comment on function ops.rate_limit_refund(text, text, integer, timestamptz) is
  'Gives back p_cost tokens that a failed upstream call took: moves tat back by cost*T (T as of the last take), never below now. No-op for an unknown or full bucket. p_now is for tests only.';

create or replace function ops.rate_limit_purge(p_now timestamptz default null)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_deleted bigint;
begin
  -- A row whose tat has passed is a full bucket: identical to no row at all.
  delete from ops.rate_limit_state as s where s.tat < coalesce(p_now, pg_catalog.now());
  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$;

comment on function ops.rate_limit_purge(timestamptz) is
  'Deletes rate-limit rows whose tat has passed (full buckets, equivalent to absent rows); returns how many. Scheduled hourly by pg_cron as tollgate-purge-rate-limits.';

-- Function-facing entry points (tollgate_api has no usage on schema ops).
create or replace function api.rate_limit_take(
  p_policy text,
  p_key text,
  p_quota integer,
  p_window_seconds integer,
  p_cost integer default 1
)
returns table (allowed boolean, remaining integer, reset_seconds integer, retry_after_seconds integer)
language sql
volatile
security definer
set search_path = ''
as $$
  select t.allowed, t.remaining, t.reset_seconds, t.retry_after_seconds
  from ops.rate_limit_take(p_policy, p_key, p_quota, p_window_seconds, p_cost) as t
$$;

comment on function api.rate_limit_take(text, text, integer, integer, integer) is
  'Rate-limit take for routes that make no other SQL call (admin, unauthenticated). Returns the decision; the caller sets RateLimit headers and answers 429 RATE_LIMITED when allowed is false. Hot paths call ops.rate_limit_take/require inside their own api.* function instead.';

create or replace function api.rate_limit_refund(p_policy text, p_key text, p_cost integer default 1)
returns void
language sql
volatile
security definer
set search_path = ''
as $$
  select ops.rate_limit_refund(p_policy, p_key, p_cost)
$$;

comment on function api.rate_limit_refund(text, text, integer) is
  'Gives back p_cost rate-limit tokens after a failed upstream call (see ops.rate_limit_refund).';

revoke all on function ops.rate_limit_us_between(timestamptz, timestamptz) from public, anon, authenticated;
revoke all on function ops.rate_limit_take(text, text, integer, integer, integer, timestamptz) from public, anon, authenticated;
revoke all on function ops.rate_limit_require(text, text, integer, integer, integer) from public, anon, authenticated;
revoke all on function ops.rate_limit_refund(text, text, integer, timestamptz) from public, anon, authenticated;
revoke all on function ops.rate_limit_purge(timestamptz) from public, anon, authenticated;
revoke all on function api.rate_limit_take(text, text, integer, integer, integer) from public, anon, authenticated;
revoke all on function api.rate_limit_refund(text, text, integer) from public, anon, authenticated;
grant execute on function api.rate_limit_take(text, text, integer, integer, integer) to tollgate_api;
grant execute on function api.rate_limit_refund(text, text, integer) to tollgate_api;

-- Purged hourly as 'tollgate-purge-rate-limits' (20261124000590_cron_schedules.sql).
