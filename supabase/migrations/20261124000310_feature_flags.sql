-- Kill switches (issue 6): one feature flag per route family. Off -> the route answers
-- 503 MAINTENANCE with Retry-After and charges nothing (ops.require_flag raises before any
-- charge, in the same transaction). Toggled by the admin API (api.flag_set) or plain SQL:
--   update ops.feature_flags set enabled = false, reason = 'upstream outage', updated_by = 'alice'
--   where name = 'ai.chat';
--
-- An unknown flag name is an error, not "enabled": treating a missing row as on would make a
-- typo'd check (require_flag('ai.caht')) silently unswitchable. Flags are created by migrations.

create table if not exists ops.feature_flags (
  name text primary key
    check (char_length(name) <= 64 and name ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$'),
  enabled boolean not null default true,
  reason text check (char_length(reason) <= 500),
  retry_after_seconds integer not null default 60 check (retry_after_seconds between 1 and 86400),
  updated_at timestamptz not null default now(),
  updated_by text check (char_length(updated_by) <= 200)
);

comment on table ops.feature_flags is
  'Kill switches per route family. enabled = false makes the route answer 503 MAINTENANCE with Retry-After = retry_after_seconds and charge nothing. Rows are created by migrations only; unknown names raise.';
comment on column ops.feature_flags.name is 'Route family, e.g. ai.chat, ai.speech, ai.images, jobs.start, credits.redeem, purchases.';
comment on column ops.feature_flags.enabled is 'false = switched off (maintenance).';
comment on column ops.feature_flags.reason is 'Why it was last toggled (operators only; never sent to clients).';
comment on column ops.feature_flags.retry_after_seconds is 'Retry-After sent to clients while the flag is off.';
comment on column ops.feature_flags.updated_at is 'Last change (maintained by trigger, also for plain-SQL toggles).';
comment on column ops.feature_flags.updated_by is 'Who made the last change (admin actor or whoever ran the SQL).';

alter table ops.feature_flags enable row level security;
revoke all on table ops.feature_flags from public, anon, authenticated, service_role, tollgate_api;

insert into ops.feature_flags (name, enabled, reason, updated_by) values
  ('ai.chat', true, null, 'migration'),
  ('ai.speech', true, null, 'migration'),
  ('ai.images', true, null, 'migration'),
  ('jobs.start', true, null, 'migration'),
  ('credits.redeem', true, null, 'migration'),
  ('purchases', true, null, 'migration')
on conflict (name) do nothing;

create or replace function ops.feature_flags_touch()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := pg_catalog.now();
  return new;
end
$$;
comment on function ops.feature_flags_touch() is
  'Trigger: stamps updated_at on every change, so plain-SQL toggles are dated too.';

drop trigger if exists feature_flags_touch on ops.feature_flags;
create trigger feature_flags_touch
before update on ops.feature_flags
for each row execute function ops.feature_flags_touch();

create or replace function ops.flag_enabled(p_name text)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_enabled boolean;
begin
  select f.enabled into v_enabled from ops.feature_flags as f where f.name = p_name;
  if not found then
    raise exception using errcode = 'P0001', message = 'INTERNAL',
      detail = pg_catalog.format('unknown feature flag %L', p_name);
  end if;
  return v_enabled;
end
$$;

comment on function ops.flag_enabled(text) is
  'Whether the feature flag is on. An unknown name raises INTERNAL (a typo must fail loudly, not read as enabled).';

create or replace function ops.require_flag(p_name text)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_flag ops.feature_flags;
begin
  select * into v_flag from ops.feature_flags as f where f.name = p_name;
  if not found then
    raise exception using errcode = 'P0001', message = 'INTERNAL',
      detail = pg_catalog.format('unknown feature flag %L', p_name);
  end if;
  if not v_flag.enabled then
    raise exception using errcode = 'P0001', message = 'MAINTENANCE',
      detail = pg_catalog.json_build_object(
        'flag', v_flag.name, 'retry_after', v_flag.retry_after_seconds
      )::text,
      hint = pg_catalog.format('%s is switched off for maintenance.', v_flag.name);
  end if;
end
$$;

comment on function ops.require_flag(text) is
  'Raises P0001 MAINTENANCE with detail = JSON {flag, retry_after} when the flag is off (503 + Retry-After); INTERNAL for an unknown name. Call it first in api.* functions, before anything is charged.';

create or replace function api.flags_list()
returns table (
  name text,
  enabled boolean,
  reason text,
  retry_after_seconds integer,
  updated_at timestamptz,
  updated_by text
)
language sql
stable
security definer
set search_path = ''
as $$
  select f.name, f.enabled, f.reason, f.retry_after_seconds, f.updated_at, f.updated_by
  from ops.feature_flags as f
  order by f.name
$$;

comment on function api.flags_list() is
  'All feature flags (admin GET /admin/flags, and the functions'' flag cache).';

create or replace function api.flag_set(
  p_name text,
  p_enabled boolean,
  p_reason text,
  p_actor text,
  p_retry_after_seconds integer default null
)
returns table (
  name text,
  enabled boolean,
  reason text,
  retry_after_seconds integer,
  updated_at timestamptz,
  updated_by text
)
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if p_enabled is null then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = 'enabled must be true or false';
  end if;
  if p_actor is null or char_length(btrim(p_actor)) not between 1 and 200 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = 'actor must be 1..200 characters';
  end if;
  if char_length(p_reason) > 500 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = 'reason must be at most 500 characters';
  end if;
  if p_retry_after_seconds is not null and p_retry_after_seconds not between 1 and 86400 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = 'retry_after_seconds must be 1..86400';
  end if;

  return query
  update ops.feature_flags as f
  set enabled = p_enabled,
      reason = p_reason,
      retry_after_seconds = coalesce(p_retry_after_seconds, f.retry_after_seconds),
      updated_by = btrim(p_actor)
  where f.name = p_name
  returning f.name, f.enabled, f.reason, f.retry_after_seconds, f.updated_at, f.updated_by;

  if not found then
    raise exception using errcode = 'P0001', message = 'NOT_FOUND',
      detail = pg_catalog.format('unknown feature flag %L', p_name);
  end if;
end
$$;

comment on function api.flag_set(text, boolean, text, text, integer) is
  'Switches a feature flag on or off (admin PUT /admin/flags); returns the new row. Unknown name -> NOT_FOUND; flags are never created here. The admin function audits the call.';

revoke all on function ops.feature_flags_touch() from public, anon, authenticated;
revoke all on function ops.flag_enabled(text) from public, anon, authenticated;
revoke all on function ops.require_flag(text) from public, anon, authenticated;
revoke all on function api.flags_list() from public, anon, authenticated;
revoke all on function api.flag_set(text, boolean, text, text, integer) from public, anon, authenticated;
grant execute on function api.flags_list() to tollgate_api;
grant execute on function api.flag_set(text, boolean, text, text, integer) to tollgate_api;
