-- =============================================================================
-- api: one-call-per-request entry points of the `credits` and `jobs` functions (issue 4).
--
-- ARCHITECTURE §1: per request ONE SQL round trip for kill switch + rate limit + idempotency +
-- account + the money operation. Each function below composes the ledger's building blocks
-- (api.ensure_account, api.balance, api.ledger_page, api.start_job, api.commit_job, ...,
-- ops.require_flag, ops.rate_limit_require) inside one transaction:
--
--   api.credits_balance   ensure account -> balance (lazy expiry)
--   api.credits_ledger    ensure account -> ledger page
--   api.jobs_start        flag jobs.start -> ensure account -> rate limit -> [key lookup/replay]
--                         -> start_job -> [key recorded]
--   api.jobs_commit       device check -> [key lookup/replay] -> commit_job -> [key recorded]
--   api.jobs_cancel       device check -> [key lookup/replay] -> cancel_job -> [key recorded]
--   api.jobs_extend       device check -> [key lookup/replay] -> extend_job -> [key recorded]
--
-- Idempotency inside one transaction (same table and rules as api.idempotency_begin/complete,
-- which the generic middleware uses): with a key, the account row is locked FIRST, so concurrent
-- duplicates queue there; the first looks the key up (none), acts and inserts the key as
-- completed with its response, all in one commit; the next then finds it and replays. One
-- indexed read + one insert instead of claim (insert) + complete (update). An error rolls
-- everything back, so the same key may be retried (no response is stored for errors). A key
-- still `in_progress` (a request running through the generic middleware,
-- functions/_shared/idempotency) answers IDEMPOTENCY_KEY_IN_USE; another request hash
-- IDEMPOTENCY_KEY_REUSED. Expired keys (24 h; in_progress claims after 10 min) count as absent.
-- Stored responses use the middleware's envelope {"v":1,"headers":{...},"json":<body>};
-- `response` returns the JSON body itself. Job tokens are never part of a stored response.
--
-- LOCK ORDER (extends the ledger's): rate-limit row -> account row -> idempotency key row ->
-- job row. Timestamps in bodies are UTC ISO-8601 with milliseconds ("...T10:00:00.000Z"),
-- independent of the session's TimeZone, so a replay is byte-identical. Without a key the
-- hot path calls no idempotency code at all.
-- =============================================================================

-- Looks up an idempotency key inside the caller's transaction after taking the account lock
-- (so concurrent duplicates queue there): o_replay = false -> run the request (no live key); true -> replay o_status / o_body (the
-- stored JSON body). Raises IDEMPOTENCY_KEY_REUSED / IDEMPOTENCY_KEY_IN_USE. Same expiry and
-- replay rules as api.idempotency_begin (credits.idempotency_key_expired / _assert_replayable).
create function credits.idempotency_lookup(p_account uuid, p_key text, p_request_hash text,
                                           out o_replay boolean, out o_status integer, out o_body jsonb)
language plpgsql
set search_path = ''
as $$
declare
  v_row credits.idempotency_keys;
begin
  o_replay := false;
  perform 1 from credits.accounts a where a.id = p_account for no key update;
  if p_request_hash is null or length(p_request_hash) not between 1 and 128
     or length(p_key) not between 1 and 255 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = 'an idempotency key (1..255 chars) needs a request hash (1..128 chars)';
  end if;
  select k.* into v_row from credits.idempotency_keys k where k.account_id = p_account and k.key = p_key;
  if not found then
    return;
  end if;
  if credits.idempotency_key_expired(v_row.created_at, v_row.status) then
    delete from credits.idempotency_keys k where k.account_id = p_account and k.key = p_key;
    return;
  end if;
  perform credits.idempotency_assert_replayable(v_row, p_request_hash);
  o_replay := true;
  o_status := v_row.response_status;
  o_body := v_row.response_body -> 'json';
end
$$;
comment on function credits.idempotency_lookup(uuid, text, text) is
  'Idempotency-Key lookup for composed api functions; takes the account lock (FOR NO KEY UPDATE) first: o_replay = false -> run; true -> o_status and the stored JSON body o_body. IDEMPOTENCY_KEY_REUSED for another request hash, IDEMPOTENCY_KEY_IN_USE while a generic-middleware claim is running; expired keys are deleted and count as absent.';

-- Records the finished response of a key looked up in this transaction, as completed.
create function credits.idempotency_record(p_account uuid, p_key text, p_request_hash text,
                                           p_status integer, p_body jsonb) returns void
language plpgsql
set search_path = ''
as $$
begin
  insert into credits.idempotency_keys (account_id, key, request_hash, status, response_status, response_body, completed_at)
  values (p_account, p_key, p_request_hash, 'completed', p_status,
          pg_catalog.jsonb_build_object('v', 1, 'headers', '{"content-type": "application/json"}'::jsonb, 'json', p_body),
          now())
  on conflict (account_id, key) do nothing;
  if not found then
    -- A generic-middleware request claimed the key after our lookup: undo everything.
    raise exception using errcode = 'P0001', message = 'IDEMPOTENCY_KEY_IN_USE',
      detail = 'a request with this idempotency key is still in progress';
  end if;
end
$$;
comment on function credits.idempotency_record(uuid, text, text, integer, jsonb) is
  'Stores a composed api function''s response for its Idempotency-Key as completed (envelope {"v":1,"headers":{...},"json":body}); IDEMPOTENCY_KEY_IN_USE (rolling the request back) if the key was claimed concurrently.';

-- The shared head of jobs_commit / jobs_cancel / jobs_extend: device binding (a job started
-- with X-Device-Id may be extended, committed or cancelled only from that device; another
-- account's job stays invisible), then, with a key, the lookup above. One call without a key.
create function credits.job_route_begin(p_account uuid, p_job_id uuid, p_device_id text,
                                        p_idempotency_key text, p_request_hash text,
                                        out o_replay boolean, out o_status integer, out o_body jsonb)
language plpgsql
set search_path = ''
as $$
declare
  v_device text;
begin
  select j.device_id into v_device from credits.jobs j where j.id = p_job_id and j.account_id = p_account;
  if not found then
    raise exception using errcode = 'P0001', message = 'JOB_NOT_FOUND', detail = 'no such job';
  end if;
  -- device_id is immutable, so no lock is needed for this check.
  if v_device is not null and p_device_id is distinct from v_device then
    raise exception using errcode = 'P0001', message = 'FORBIDDEN',
      detail = 'this job is bound to another device (X-Device-Id)';
  end if;
  o_replay := false;
  if p_idempotency_key is not null then
    select f.o_replay, f.o_status, f.o_body into o_replay, o_status, o_body
      from credits.idempotency_lookup(p_account, p_idempotency_key, p_request_hash) f;
  end if;
end
$$;
comment on function credits.job_route_begin(uuid, uuid, text, text, text) is
  'Head of api.jobs_commit/cancel/extend: JOB_NOT_FOUND for a missing or another account''s job, FORBIDDEN when the job is bound to a device other than p_device_id; then, with p_idempotency_key, credits.idempotency_lookup (account lock, replay or conflict). o_replay = false -> run the route.';

-- credits_balance ------------------------------------------------------------------------------
-- Every composed function creates a missing account the same way: a plain read first keeps the
-- common case free of INSERT ... ON CONFLICT; api.ensure_account grants exactly once, also
-- under concurrent first calls.
create function api.credits_balance(p_account uuid, p_initial_grant integer)
returns table (balance bigint, held bigint, available bigint)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
begin
  if not exists (select 1 from credits.accounts a where a.id = p_account) then
    perform api.ensure_account(p_account, p_initial_grant);
  end if;
  return query select b.balance, b.held, b.available from api.balance(p_account) b;
end
$$;
comment on function api.credits_balance(uuid, integer) is
  'GET /credits/balance in one call: creates the account with p_initial_grant on first use, then (balance, held, available) with expired holds released first.';

-- credits_ledger -------------------------------------------------------------------------------
create function api.credits_ledger(p_account uuid, p_initial_grant integer, p_limit integer, p_cursor bigint default null)
returns table (
  id bigint, kind text, delta bigint, balance_after bigint, cause_type text, cause_key text,
  reason text, created_at timestamptz, hash text)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
begin
  if not exists (select 1 from credits.accounts a where a.id = p_account) then
    perform api.ensure_account(p_account, p_initial_grant);
  end if;
  return query
    select l.id, l.kind, l.delta, l.balance_after, l.cause_type, l.cause_key, l.reason, l.created_at, l.hash
      from api.ledger_page(p_account, p_limit, p_cursor) l;
end
$$;
comment on function api.credits_ledger(uuid, integer, integer, bigint) is
  'GET /credits/ledger in one call: creates the account on first use, then api.ledger_page (newest first, id < p_cursor; ask for limit + 1 to detect a next page).';

-- jobs_start -----------------------------------------------------------------------------------
create function api.jobs_start(
  p_account uuid, p_initial_grant integer, p_quota integer, p_window_seconds integer,
  p_amount bigint, p_ttl_seconds integer, p_device_id text, p_token_hash bytea,
  p_idempotency_key text default null, p_request_hash text default null)
returns table (
  replayed boolean, response_status integer, response jsonb,
  rate_limit_remaining integer, rate_limit_reset_seconds integer)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_remaining integer;
  v_reset integer;
  v_found record;
  v_job record;
  v_body jsonb;
begin
  -- Kill switch first: while jobs.start is off nothing is created, counted or held.
  perform ops.require_flag('jobs.start');
  if not exists (select 1 from credits.accounts a where a.id = p_account) then
    perform api.ensure_account(p_account, p_initial_grant);
  end if;
  if p_quota is not null then
    select r.remaining, r.reset_seconds into v_remaining, v_reset
      from ops.rate_limit_require('jobs.start', 'account:' || p_account::text, p_quota, p_window_seconds) r;
  end if;

  if p_idempotency_key is not null then
    select f.o_replay, f.o_status, f.o_body into v_found
      from credits.idempotency_lookup(p_account, p_idempotency_key, p_request_hash) f;
    if v_found.o_replay then
      return query select true, v_found.o_status, v_found.o_body, v_remaining, v_reset;
      return;
    end if;
  end if;

  select s.job_id, s.amount, s.expires_at, s.available, s.replayed into v_job
    from api.start_job(p_account, p_amount, p_ttl_seconds, p_device_id, p_idempotency_key, p_token_hash) s;
  v_body := pg_catalog.jsonb_build_object(
    'jobId', v_job.job_id, 'amount', v_job.amount,
    'expiresAt', pg_catalog.to_char(v_job.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'available', v_job.available);
  if p_idempotency_key is not null then
    perform credits.idempotency_record(p_account, p_idempotency_key, p_request_hash, 201, v_body);
  end if;
  -- start_job also replays by the job's own key (kept for the job's lifetime, beyond 24 h).
  return query select v_job.replayed, 201, v_body, v_remaining, v_reset;
end
$$;
comment on function api.jobs_start(uuid, integer, integer, integer, bigint, integer, text, bytea, text, text) is
  'POST /jobs in one call: ops.require_flag(''jobs.start'') (MAINTENANCE) -> account created with p_initial_grant on first use -> ops.rate_limit_require(''jobs.start'', ''account:<id>'', p_quota, p_window_seconds) unless p_quota is null (RATE_LIMITED) -> Idempotency-Key (replay / IDEMPOTENCY_KEY_REUSED / IDEMPOTENCY_KEY_IN_USE) -> api.start_job -> response stored for the key. Returns replayed, 201 and the JSON body {jobId, amount, expiresAt, available} (no token), plus the rate-limit remaining/reset for the RateLimit header.';

-- jobs_commit / jobs_cancel / jobs_extend ------------------------------------------------------
-- Shared shape: credits.job_route_begin (device binding; with a key: account lock,
-- lookup/replay) -> the ledger's function -> (with a key: record the response).
create function api.jobs_commit(
  p_account uuid, p_job_id uuid, p_amount bigint, p_device_id text,
  p_idempotency_key text default null, p_request_hash text default null)
returns table (replayed boolean, response_status integer, response jsonb)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_found record;
  v_job record;
  v_body jsonb;
begin
  select b.o_replay, b.o_status, b.o_body into v_found
    from credits.job_route_begin(p_account, p_job_id, p_device_id, p_idempotency_key, p_request_hash) b;
  if v_found.o_replay then
    return query select true, v_found.o_status, v_found.o_body;
    return;
  end if;
  select r.* into v_job from api.commit_job(p_account, p_job_id, p_amount) r;
  v_body := pg_catalog.jsonb_build_object(
    'jobId', v_job.job_id, 'status', v_job.status, 'amount', v_job.amount, 'spent', v_job.spent,
    'debited', v_job.debited, 'released', v_job.released,
    'balance', v_job.balance, 'held', v_job.held, 'available', v_job.available);
  if p_idempotency_key is not null then
    perform credits.idempotency_record(p_account, p_idempotency_key, p_request_hash, 200, v_body);
  end if;
  return query select false, 200, v_body;
end
$$;
comment on function api.jobs_commit(uuid, uuid, bigint, text, text, text) is
  'POST /jobs/:id/commit in one call: device binding (JOB_NOT_FOUND, FORBIDDEN) -> Idempotency-Key -> api.commit_job (p_amount null = the whole hold) -> response {jobId, status, amount, spent, debited, released, balance, held, available}.';

create function api.jobs_cancel(
  p_account uuid, p_job_id uuid, p_device_id text,
  p_idempotency_key text default null, p_request_hash text default null)
returns table (replayed boolean, response_status integer, response jsonb)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_found record;
  v_job record;
  v_body jsonb;
begin
  select b.o_replay, b.o_status, b.o_body into v_found
    from credits.job_route_begin(p_account, p_job_id, p_device_id, p_idempotency_key, p_request_hash) b;
  if v_found.o_replay then
    return query select true, v_found.o_status, v_found.o_body;
    return;
  end if;
  select r.* into v_job from api.cancel_job(p_account, p_job_id) r;
  v_body := pg_catalog.jsonb_build_object(
    'jobId', v_job.job_id, 'status', v_job.status, 'amount', v_job.amount, 'spent', v_job.spent,
    'debited', v_job.debited, 'released', v_job.released,
    'balance', v_job.balance, 'held', v_job.held, 'available', v_job.available);
  if p_idempotency_key is not null then
    perform credits.idempotency_record(p_account, p_idempotency_key, p_request_hash, 200, v_body);
  end if;
  return query select false, 200, v_body;
end
$$;
comment on function api.jobs_cancel(uuid, uuid, text, text, text) is
  'POST /jobs/:id/cancel in one call: device binding -> Idempotency-Key -> api.cancel_job (debits what was already spent, releases the rest) -> response (same shape as jobs_commit).';

create function api.jobs_extend(
  p_account uuid, p_job_id uuid, p_add_amount bigint, p_add_ttl_seconds integer, p_device_id text,
  p_idempotency_key text default null, p_request_hash text default null)
returns table (replayed boolean, response_status integer, response jsonb)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_found record;
  v_job record;
  v_body jsonb;
begin
  select b.o_replay, b.o_status, b.o_body into v_found
    from credits.job_route_begin(p_account, p_job_id, p_device_id, p_idempotency_key, p_request_hash) b;
  if v_found.o_replay then
    return query select true, v_found.o_status, v_found.o_body;
    return;
  end if;
  select r.* into v_job
    from api.extend_job(p_account, p_job_id, coalesce(p_add_amount, 0), coalesce(p_add_ttl_seconds, 0)) r;
  v_body := pg_catalog.jsonb_build_object(
    'jobId', v_job.job_id, 'status', 'pending', 'amount', v_job.amount, 'spent', v_job.spent,
    'remaining', v_job.amount - v_job.spent,
    'expiresAt', pg_catalog.to_char(v_job.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'balance', v_job.balance, 'held', v_job.held, 'available', v_job.available);
  if p_idempotency_key is not null then
    perform credits.idempotency_record(p_account, p_idempotency_key, p_request_hash, 200, v_body);
  end if;
  return query select false, 200, v_body;
end
$$;
comment on function api.jobs_extend(uuid, uuid, bigint, integer, text, text, text) is
  'POST /jobs/:id/extend in one call: device binding -> Idempotency-Key -> api.extend_job (adds p_add_amount to the hold if available allows, p_add_ttl_seconds to the expiry) -> response {jobId, status, amount, spent, remaining, expiresAt, balance, held, available}.';

revoke all on function
  credits.idempotency_lookup(uuid, text, text), credits.idempotency_record(uuid, text, text, integer, jsonb),
  credits.job_route_begin(uuid, uuid, text, text, text),
  api.credits_balance(uuid, integer), api.credits_ledger(uuid, integer, integer, bigint),
  api.jobs_start(uuid, integer, integer, integer, bigint, integer, text, bytea, text, text),
  api.jobs_commit(uuid, uuid, bigint, text, text, text), api.jobs_cancel(uuid, uuid, text, text, text),
  api.jobs_extend(uuid, uuid, bigint, integer, text, text, text)
from public, anon, authenticated;
grant execute on function
  api.credits_balance(uuid, integer), api.credits_ledger(uuid, integer, integer, bigint),
  api.jobs_start(uuid, integer, integer, integer, bigint, integer, text, bytea, text, text),
  api.jobs_commit(uuid, uuid, bigint, text, text, text), api.jobs_cancel(uuid, uuid, text, text, text),
  api.jobs_extend(uuid, uuid, bigint, integer, text, text, text)
to tollgate_api;
