-- Audit and error logs (issue #7 "Logs"), created early because every later part writes them:
-- promo failures and admin actions are audit events, unexpected errors go to the error log.
-- Functions write both after the response (EdgeRuntime.waitUntil) through api.log_* below;
-- callers redact before writing — these tables must never hold a secret.

create table ops.audit_log (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  category text not null check (category in ('security', 'admin', 'credits')),
  action text not null check (action ~ '^[a-z0-9_.:-]{1,80}$'),
  account_id uuid,
  device_id text check (length(device_id) <= 128),
  ip_hash text check (length(ip_hash) <= 128),
  request_id text check (length(request_id) <= 128),
  metadata jsonb not null default '{}'::jsonb
);
comment on table ops.audit_log is 'Security, admin and credit events. Client IPs appear only as HMACs (ip_hash); metadata is redacted by the writer.';
comment on column ops.audit_log.category is 'security (auth failures, promo failures, blocks), admin (every admin action), credits (notable money events).';
comment on column ops.audit_log.ip_hash is 'HMAC-SHA256 of the client IP with IP_HASH_SECRET: lets anomalies group by IP without storing one.';
create index audit_log_at_idx on ops.audit_log (at desc);
create index audit_log_account_idx on ops.audit_log (account_id, at desc) where account_id is not null;
create index audit_log_category_action_idx on ops.audit_log (category, action, at desc);

create table ops.error_log (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  level text not null check (level in ('warn', 'error', 'fatal')),
  message text not null check (length(message) <= 2000),
  stack text check (length(stack) <= 20000),
  function_name text check (length(function_name) <= 64),
  request_id text check (length(request_id) <= 128),
  metadata jsonb not null default '{}'::jsonb
);
comment on table ops.error_log is 'Unexpected errors from the functions (the 500s), with stack and request id; written after the response.';
create index error_log_at_idx on ops.error_log (at desc);

alter table ops.audit_log enable row level security;
alter table ops.error_log enable row level security;

create function api.log_audit(
  p_category text,
  p_action text,
  p_account_id uuid default null,
  p_device_id text default null,
  p_ip_hash text default null,
  p_request_id text default null,
  p_metadata jsonb default '{}'::jsonb
) returns void
language sql
security definer
set search_path = ''
as $$
  insert into ops.audit_log (category, action, account_id, device_id, ip_hash, request_id, metadata)
  values (p_category, p_action, p_account_id, p_device_id, p_ip_hash, p_request_id, coalesce(p_metadata, '{}'::jsonb));
$$;
comment on function api.log_audit(text, text, uuid, text, text, text, jsonb) is 'Appends one audit event. The caller redacts metadata; IPs arrive already HMACed.';

create function api.log_error(
  p_level text,
  p_message text,
  p_stack text default null,
  p_function_name text default null,
  p_request_id text default null,
  p_metadata jsonb default '{}'::jsonb
) returns void
language sql
security definer
set search_path = ''
as $$
  insert into ops.error_log (level, message, stack, function_name, request_id, metadata)
  values (p_level, left(p_message, 2000), left(p_stack, 20000), p_function_name, p_request_id, coalesce(p_metadata, '{}'::jsonb));
$$;
comment on function api.log_error(text, text, text, text, text, jsonb) is 'Appends one error-log row (message and stack truncated to their column limits).';

revoke all on function api.log_audit(text, text, uuid, text, text, text, jsonb) from public, anon, authenticated;
revoke all on function api.log_error(text, text, text, text, text, jsonb) from public, anon, authenticated;
grant execute on function api.log_audit(text, text, uuid, text, text, text, jsonb) to tollgate_api;
grant execute on function api.log_error(text, text, text, text, text, jsonb) to tollgate_api;
