-- Tollgate foundations: schemas, the least-privilege function role, extensions.
-- Design (ARCHITECTURE §2):
--   credits  private money tables (never granted to anyone but their owner)
--   api      the only surface Edge Functions call: security definer functions
--   ops      operational state: rate limits, flags, logs, alerts, backups
--   audit    read-only views for SQL audits in the dashboard

create extension if not exists pgcrypto with schema extensions;
create extension if not exists pg_cron;

create schema if not exists credits;
create schema if not exists api;
create schema if not exists ops;
create schema if not exists audit;

comment on schema credits is 'Private money tables: accounts, append-only ledger, jobs (holds), prices, promo, purchases, idempotency keys. No client or function role has table privileges here.';
comment on schema api is 'The only surface Edge Functions use: security definer functions with a pinned search_path, executable by tollgate_api alone.';
comment on schema ops is 'Operational state: rate limits, feature flags, audit and error logs, alerts, reconciliation, backups.';
comment on schema audit is 'Read-only views for SQL audits from the Supabase dashboard.';

-- The function role: may log in and call api.*, and nothing else. Its password is set
-- outside migrations (`alter role tollgate_api password ...`), never committed.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'tollgate_api') then
    create role tollgate_api login noinherit;
  end if;
end
$$;
comment on role tollgate_api is 'Login role of the Edge Functions: EXECUTE on api.* only, no table privileges.';

-- Nothing in our schemas is reachable by default.
revoke all on schema credits, ops, audit from public;
revoke all on schema api from public;
grant usage on schema api to tollgate_api;

-- Functions are executable by PUBLIC unless revoked, and a per-schema default privilege
-- cannot take that away. Every function in our schemas therefore revokes PUBLIC explicitly,
-- and ops.lint() (schema_lint_finds_no_problems.sql) fails the build if one forgets.
