-- Unauthenticated requests (issue 6): 100/min per client IP, and every 401 is a security event.
--
-- Where this runs: a request that authenticates is limited per account on its own hot path and
-- never pays for this. Only requests whose authentication FAILED reach the database here, with
-- one round trip that both takes a token from the client IP's "unauthenticated" bucket and
-- writes the audit row (action auth.failed, category security, ip_hash). The ops anomaly detector
-- groups auth.failed by ip_hash to find 401 bursts.
--
-- Volume bound: the audit row is written only while the bucket admits the request, so a flood
-- from one IP writes at most `quota` audit rows per window; the rest are answered 429 without a
-- write (the rate-limit row update is all they cost).

create function api.auth_failed(
  p_ip_hash text,
  p_quota integer,
  p_window_seconds integer,
  p_function text,
  p_reason text,
  p_request_id text default null,
  p_metadata jsonb default '{}'::jsonb
)
returns table (allowed boolean, remaining integer, reset_seconds integer, retry_after_seconds integer)
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_rl record;
begin
  if p_ip_hash is null or char_length(p_ip_hash) not between 1 and 128 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'ip hash must be 1..128 chars';
  end if;
  if p_function is null or p_function !~ '^[a-z][a-z0-9-]{0,63}$' then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'function must be a function name';
  end if;

  if p_quota is null then
    allowed := true;
    remaining := null;
    reset_seconds := null;
    retry_after_seconds := null;
  else
    select t.* into v_rl from ops.rate_limit_take('unauthenticated', 'ip:' || p_ip_hash, p_quota, p_window_seconds) t;
    allowed := v_rl.allowed;
    remaining := v_rl.remaining;
    reset_seconds := v_rl.reset_seconds;
    retry_after_seconds := v_rl.retry_after_seconds;
  end if;

  if allowed then
    insert into ops.audit_log (category, action, ip_hash, request_id, metadata)
    values ('security', 'auth.failed', p_ip_hash, left(p_request_id, 128),
            coalesce(p_metadata, '{}'::jsonb)
              || pg_catalog.jsonb_build_object('function', p_function, 'reason', left(p_reason, 64)));
  end if;
  return next;
end
$$;

comment on function api.auth_failed(text, integer, integer, text, text, text, jsonb) is
  'A request failed authentication (401): takes a token from the client IP''s "unauthenticated" bucket (key ip:<p_ip_hash>; p_quota null = rate limiting off) and, while admitted, writes a security audit row auth.failed {function, reason, ...p_metadata} with the ip_hash. Returns the rate-limit decision (remaining/reset null when not limited); a denied request should be answered 429 instead of 401. One round trip.';

revoke all on function api.auth_failed(text, integer, integer, text, text, text, jsonb) from public, anon, authenticated;
grant execute on function api.auth_failed(text, integer, integer, text, text, text, jsonb) to tollgate_api;
