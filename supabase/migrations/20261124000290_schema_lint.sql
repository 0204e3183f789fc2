-- =============================================================================
-- Schema lint: the security rules of ARCHITECTURE §2 as a query. Generic over our schemas, so
-- tables and functions added later by any migration are covered automatically. The pgTAP test
-- schema_lint_finds_no_problems.sql asserts it returns no rows; operators can run
-- `select * from audit.schema_lint` in the dashboard.
-- =============================================================================

create function ops.lint()
returns table (check_name text, object text, problem text)
language sql
stable
set search_path = ''
as $$
  with our_schemas(nspname) as (values ('credits'), ('api'), ('ops'), ('audit')),
  our_ns as (
    select n.oid, n.nspname from pg_catalog.pg_namespace n join our_schemas s using (nspname)
  ),
  -- objects owned by extensions (pg_cron, pgtap, ...) are not ours to lint
  ext_members as (
    select d.objid, d.classid from pg_catalog.pg_depend d where d.deptype = 'e'
  ),
  our_tables as (
    select c.oid, c.relname, c.relkind, c.relrowsecurity, c.relacl, ns.nspname
      from pg_catalog.pg_class c join our_ns ns on ns.oid = c.relnamespace
     where c.relkind in ('r', 'p', 'v', 'm', 'f')
       and not exists (select 1 from ext_members e
                        where e.objid = c.oid and e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
  ),
  our_functions as (
    select p.oid, p.prosecdef, p.proconfig, p.proacl, ns.nspname,
           format('%I.%I(%s)', ns.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) as signature
      from pg_catalog.pg_proc p join our_ns ns on ns.oid = p.pronamespace
     where p.prokind in ('f', 'p')
       and not exists (select 1 from ext_members e
                        where e.objid = p.oid and e.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass)
  ),
  api_role as (select r.oid from pg_catalog.pg_roles r where r.rolname = 'tollgate_api')

  -- 1. every table has row level security on
  select 'rls_enabled', format('%I.%I', t.nspname, t.relname), 'row level security is disabled'
    from our_tables t
   where t.relkind in ('r', 'p') and not t.relrowsecurity

  -- 2. every security definer function pins search_path to '' (no schema can shadow a name)
  union all
  select 'definer_search_path', f.signature,
         case when f.proconfig is null or not exists (select 1 from pg_catalog.unnest(f.proconfig) c where c like 'search_path=%')
              then 'security definer without a pinned search_path'
              else 'security definer with search_path other than '''' (' ||
                   (select c from pg_catalog.unnest(f.proconfig) c where c like 'search_path=%' limit 1) || ')'
         end
    from our_functions f
   where f.prosecdef
     and not coalesce('search_path=""' = any (f.proconfig), false)

  -- 3. no function in api (and no security definer function anywhere in our schemas) is
  --    executable by PUBLIC, anon or authenticated (a null ACL means PUBLIC may execute)
  union all
  select 'client_execute', f.signature, 'executable by ' || grantee
    from our_functions f
   cross join lateral (
     select 'PUBLIC' as grantee
      where f.proacl is null
         or exists (select 1 from pg_catalog.aclexplode(f.proacl) a where a.grantee = 0 and a.privilege_type = 'EXECUTE')
     union all
     select r.rolname from pg_catalog.pg_roles r
      where r.rolname in ('anon', 'authenticated')
        and pg_catalog.has_function_privilege(r.oid, f.oid, 'EXECUTE')
   ) g
   where f.nspname = 'api' or f.prosecdef

  -- 4. the function role holds no privilege on any table, view, sequence or column anywhere,
  --    belongs to no other role and has no dangerous attribute
  union all
  select 'function_role_table_privilege', format('%I.%I', n.nspname, c.relname),
         'tollgate_api holds ' || a.privilege_type
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   cross join lateral pg_catalog.aclexplode(c.relacl) a
   where a.grantee = (select oid from api_role)
  union all
  select 'function_role_table_privilege', format('%I.%I.%I', n.nspname, c.relname, att.attname),
         'tollgate_api holds column ' || a.privilege_type
    from pg_catalog.pg_attribute att
    join pg_catalog.pg_class c on c.oid = att.attrelid
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   cross join lateral pg_catalog.aclexplode(att.attacl) a
   where a.grantee = (select oid from api_role)
  union all
  select 'function_role_membership', 'tollgate_api', 'tollgate_api is a member of ' || r.rolname
    from pg_catalog.pg_auth_members m join pg_catalog.pg_roles r on r.oid = m.roleid
   where m.member = (select oid from api_role)
  union all
  select 'function_role_attributes', 'tollgate_api', 'tollgate_api is superuser, bypassrls, createrole or createdb'
    from pg_catalog.pg_roles r
   where r.rolname = 'tollgate_api' and (r.rolsuper or r.rolbypassrls or r.rolcreaterole or r.rolcreatedb)
  union all
  select 'function_role_missing', 'tollgate_api', 'the function role does not exist'
   where not exists (select 1 from api_role)

  -- 5. no client role may write anything in our schemas, and PUBLIC/anon may not even read
  union all
  select 'client_table_privilege', format('%I.%I', t.nspname, t.relname), g.grantee || ' holds ' || g.privilege
    from our_tables t
   cross join lateral (
     select 'PUBLIC' as grantee, a.privilege_type as privilege
       from pg_catalog.aclexplode(t.relacl) a where a.grantee = 0
     union all
     select r.rolname, p.privilege
       from pg_catalog.pg_roles r
      cross join (values ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) p(privilege)
      where r.rolname in ('anon', 'authenticated')
        and (r.rolname = 'anon' or p.privilege <> 'SELECT')
        and pg_catalog.has_table_privilege(r.oid, t.oid, p.privilege)
   ) g

  -- 6. integrity triggers (append-only ledger, derived totals, job state machine) are enabled
  union all
  select 'trigger_disabled', format('%I.%I: %I', t.nspname, t.relname, tg.tgname), 'trigger is disabled'
    from pg_catalog.pg_trigger tg join our_tables t on t.oid = tg.tgrelid
   where not tg.tgisinternal and tg.tgenabled = 'D'
$$;
comment on function ops.lint() is
  'Security lint over schemas credits, api, ops, audit: RLS on every table; security definer functions pin search_path = ''''; api functions (and any definer function) not executable by PUBLIC/anon/authenticated; tollgate_api holds no table/column privilege, no membership, no dangerous attribute; clients cannot write (anon cannot read); integrity triggers enabled. Returns one row per problem; none expected.';

create view audit.schema_lint as select l.check_name, l.object, l.problem from ops.lint() l;
comment on view audit.schema_lint is 'Dashboard view of ops.lint(): should always be empty.';

create view audit.ledger_chain_status as
  select v.account_id, v.ok, v.rows_checked, v.first_bad_id, v.problem from ops.verify_ledger_chains() v;
comment on view audit.ledger_chain_status is 'Dashboard view of ops.verify_ledger_chains(): one row per account; `where not ok` should be empty.';

revoke all on function ops.lint() from public, anon, authenticated;
revoke all on audit.schema_lint, audit.ledger_chain_status from public, anon, authenticated;
