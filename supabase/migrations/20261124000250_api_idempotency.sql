-- =============================================================================
-- api: HTTP-level idempotency (Idempotency-Key on credit-moving POSTs), per account, 24 h.
--
-- Protocol for a handler:
--   1. r := api.idempotency_begin(account, key, request_hash)
--        state 'started' -> run the request;
--        state 'replay'  -> answer r.response_status / r.response_body with Idempotent-Replayed: true;
--        IDEMPOTENCY_KEY_REUSED (422) same key, different request hash;
--        IDEMPOTENCY_KEY_IN_USE (409) the first request with this key is still running.
--   2. after the handler: api.idempotency_complete(account, key, status, body) for responses that
--      must replay (2xx and deterministic 4xx), or api.idempotency_abandon(account, key) for
--      transient failures (5xx) so that the client may retry with the same key.
-- request_hash should cover method + path + canonical body: keys are per account, not per route.
-- A key left in_progress for 10 minutes (crashed handler) may be claimed again; the money
-- functions are idempotent by their own keys (job idempotency key, charge/spend/grant reference),
-- so a re-run cannot double-charge.
-- =============================================================================

-- When a key stops counting: 24 h after it was created, or 10 minutes for a claim still in
-- progress (a crashed handler). Plain SQL without SET, so the planner inlines it into callers'
-- WHERE clauses and expressions (no function call on the hot path).
create function credits.idempotency_key_expired(p_created_at timestamptz, p_status text)
returns boolean
language sql
stable
as $$
  select p_created_at <= now() - interval '24 hours'
      or (p_status = 'in_progress' and p_created_at <= now() - interval '10 minutes')
$$;
comment on function credits.idempotency_key_expired(timestamptz, text) is
  'True when an idempotency key no longer counts: created 24 h ago or more, or an in_progress claim 10 minutes old (abandoned). Shared by api.idempotency_begin and credits.idempotency_lookup.';
revoke all on function credits.idempotency_key_expired(timestamptz, text) from public, anon, authenticated;

-- The one rule for a live key found again, shared by api.idempotency_begin (generic middleware)
-- and credits.idempotency_lookup (composed api functions, 20261124000350): only the same
-- request may replay, and only once its response is stored. Runs only on the replay/conflict
-- path, never when a key is claimed for the first time.
create function credits.idempotency_assert_replayable(p_row credits.idempotency_keys, p_request_hash text)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  if p_row.request_hash <> p_request_hash then
    raise exception using errcode = 'P0001', message = 'IDEMPOTENCY_KEY_REUSED',
      detail = 'this idempotency key was used for a different request';
  end if;
  if p_row.status = 'in_progress' then
    raise exception using errcode = 'P0001', message = 'IDEMPOTENCY_KEY_IN_USE',
      detail = 'a request with this idempotency key is still in progress';
  end if;
end
$$;
comment on function credits.idempotency_assert_replayable(credits.idempotency_keys, text) is
  'Raises IDEMPOTENCY_KEY_REUSED when the live key p_row was stored for another request hash, IDEMPOTENCY_KEY_IN_USE while its first request is still in progress; returns when p_row may be replayed.';
revoke all on function credits.idempotency_assert_replayable(credits.idempotency_keys, text)
  from public, anon, authenticated;

create function api.idempotency_begin(p_account uuid, p_key text, p_request_hash text)
returns table (state text, response_status integer, response_body jsonb)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_row credits.idempotency_keys;
begin
  perform credits.require(p_account is not null, 'account is required');
  perform credits.require(length(p_key) between 1 and 255, 'idempotency key must be 1..255 chars');
  perform credits.require(length(p_request_hash) between 1 and 128, 'request hash must be 1..128 chars');

  -- Expired (24 h) keys and abandoned in-progress claims (10 min) no longer count.
  delete from credits.idempotency_keys k
   where k.account_id = p_account and k.key = p_key
     and credits.idempotency_key_expired(k.created_at, k.status);

  insert into credits.idempotency_keys (account_id, key, request_hash)
  values (p_account, p_key, p_request_hash)
  on conflict (account_id, key) do nothing;
  if found then
    return query select 'started'::text, null::integer, null::jsonb;
    return;
  end if;

  select k.* into v_row from credits.idempotency_keys k where k.account_id = p_account and k.key = p_key;
  if not found then
    -- Released between our insert attempt and this read: treat as still busy; the client retries.
    raise exception using errcode = 'P0001', message = 'IDEMPOTENCY_KEY_IN_USE', detail = 'retry shortly';
  end if;
  perform credits.idempotency_assert_replayable(v_row, p_request_hash);
  return query select 'replay'::text, v_row.response_status, v_row.response_body;
end
$$;
comment on function api.idempotency_begin(uuid, text, text) is
  'Claims (account, key) for a request with the given hash: state ''started'' (run it) or ''replay'' (with the stored response_status/response_body). IDEMPOTENCY_KEY_REUSED for another request hash, IDEMPOTENCY_KEY_IN_USE while the first is running.';

create function api.idempotency_complete(p_account uuid, p_key text, p_response_status integer, p_response_body jsonb)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform credits.require(p_response_status between 100 and 599, 'response status must be 100..599');
  update credits.idempotency_keys k
     set status = 'completed', response_status = p_response_status, response_body = p_response_body,
         completed_at = now()
   where k.account_id = p_account and k.key = p_key and k.status = 'in_progress';
  return found;
end
$$;
comment on function api.idempotency_complete(uuid, text, integer, jsonb) is
  'Stores the response of a claimed key for replay; returns false if the claim no longer exists (expired or abandoned).';

create function api.idempotency_abandon(p_account uuid, p_key text)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from credits.idempotency_keys k
   where k.account_id = p_account and k.key = p_key and k.status = 'in_progress';
  return found;
end
$$;
comment on function api.idempotency_abandon(uuid, text) is
  'Drops an in-progress claim (transient failure) so the client can retry with the same key; completed keys are kept.';

create function api.purge_idempotency_keys()
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_count integer;
begin
  delete from credits.idempotency_keys k where k.created_at <= now() - interval '24 hours';
  get diagnostics v_count = row_count;
  return v_count;
end
$$;
comment on function api.purge_idempotency_keys() is 'Deletes idempotency keys older than 24 h; pg_cron tollgate-purge-idempotency-keys runs it hourly.';

revoke all on function
  api.idempotency_begin(uuid, text, text), api.idempotency_complete(uuid, text, integer, jsonb),
  api.idempotency_abandon(uuid, text), api.purge_idempotency_keys()
from public, anon, authenticated;
grant execute on function
  api.idempotency_begin(uuid, text, text), api.idempotency_complete(uuid, text, integer, jsonb),
  api.idempotency_abandon(uuid, text), api.purge_idempotency_keys()
to tollgate_api;

-- Scheduled hourly as 'tollgate-purge-idempotency-keys' (20261124000590_cron_schedules.sql).
