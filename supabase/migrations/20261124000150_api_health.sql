-- Readiness probe for the health function (issue #3): the database time and the newest applied
-- migration. tollgate_api has no table privileges, so reading supabase_migrations goes through
-- this security definer function, which exposes two facts and nothing else.

create function api.health()
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_version text;
begin
  -- The history table is created by `supabase db push`; a database migrated some other way
  -- simply reports no version instead of failing the probe.
  if to_regclass('supabase_migrations.schema_migrations') is not null then
    select max(m.version) into v_version from supabase_migrations.schema_migrations as m;
  end if;
  return jsonb_build_object('db_time', now(), 'migration_version', v_version);
end;
$$;

comment on function api.health() is 'Health probe: {db_time, migration_version}. Reads only the migration history; used by GET /health?deep=1.';

revoke all on function api.health() from public, anon, authenticated;
grant execute on function api.health() to tollgate_api;
