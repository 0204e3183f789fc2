-- Static check: plpgsql_check finds no error in any PL/pgSQL function of our schemas (api,
-- credits, ops), trigger functions included (checked against their tables).
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
create extension if not exists plpgsql_check;
select plan(3);

select is_empty($$
  select p.oid::regprocedure, c.lineno, c.message
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
   cross join lateral plpgsql_check_function_tb(p.oid, fatal_errors => false) c
   where n.nspname in ('api', 'credits', 'ops')
     and p.prolang = (select oid from pg_language where lanname = 'plpgsql')
     and p.prorettype <> 'trigger'::regtype
     and c.level = 'error'
     -- supabase_migrations.* exists only where `supabase db push` ran, not on scratch clusters
     and c.message not like 'relation "supabase_migrations.%" does not exist'$$,
  'no PL/pgSQL function in api, credits or ops has an error');
select is_empty($$
  select t.tgrelid::regclass, p.oid::regprocedure, c.lineno, c.message
    from pg_trigger t
    join pg_proc p on p.oid = t.tgfoid
    join pg_namespace n on n.oid = p.pronamespace
   cross join lateral plpgsql_check_function_tb(p.oid, t.tgrelid, fatal_errors => false) c
   where not t.tgisinternal and n.nspname in ('api', 'credits', 'ops')
     and p.prolang = (select oid from pg_language where lanname = 'plpgsql')
     and c.level = 'error'$$,
  'no trigger function in api, credits or ops has an error');
select is_empty($$
  select p.oid::regprocedure, c.lineno, c.level, c.message
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
   cross join lateral plpgsql_check_function_tb(p.oid, fatal_errors => false) c
   where n.nspname in ('api', 'credits')
     and p.prolang = (select oid from pg_language where lanname = 'plpgsql')
     and p.prorettype <> 'trigger'::regtype
     and p.proname in ('ensure_account', 'balance', 'ledger_page', 'grant', 'start_job', 'get_job', 'authorize_job',
                       'spend_on_job', 'unspend_on_job', 'extend_job', 'commit_job', 'cancel_job', 'expire_jobs',
                       'charge', 'refund', 'idempotency_begin', 'idempotency_complete', 'idempotency_abandon',
                       'purge_idempotency_keys', 'lock_account', 'settle_job', 'settle_expired_jobs', 'lock_job',
                       'assert_job_pending', 'assert_job_token', 'require')$$,
  'the credits functions have no warnings either');

select * from finish();
rollback;
