-- Least privilege: every api function is executable by tollgate_api and by no client role
-- (PUBLIC, anon, authenticated); tollgate_api itself has no table privilege anywhere.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(14);

select api.ensure_account('ae000000-0000-0000-0000-000000000001', 5);

select is(array(select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                 where n.nspname = 'api' and (p.proacl is null
                    or exists (select 1 from aclexplode(p.proacl) a where a.grantee = 0))),
  '{}'::text[], 'no api function is executable by PUBLIC');
select is(array(select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                 where n.nspname = 'api' and (has_function_privilege('anon', p.oid, 'execute')
                                           or has_function_privilege('authenticated', p.oid, 'execute'))),
  '{}'::text[], 'no api function is executable by anon or authenticated');
select is(array(select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                 where n.nspname = 'api' and not p.prosecdef),
  '{}'::text[], 'every api function is security definer');
select is(array(select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                 where n.nspname = 'api' and p.proname in ('ensure_account', 'balance', 'ledger_page', 'grant',
                   'verify_ledger_chain', 'start_job', 'get_job', 'authorize_job', 'spend_on_job', 'unspend_on_job',
                   'extend_job', 'commit_job', 'cancel_job', 'expire_jobs', 'charge', 'refund',
                   'idempotency_begin', 'idempotency_complete', 'idempotency_abandon', 'purge_idempotency_keys')
                   and not has_function_privilege('tollgate_api', p.oid, 'execute')),
  '{}'::text[], 'tollgate_api may execute every credits api function');
select is((select count(*) from pg_class c cross join lateral aclexplode(c.relacl) a
            where a.grantee = 'tollgate_api'::regrole), 0::bigint, 'tollgate_api holds no table privilege');

set local role anon;
select throws_ok($$select api.balance('ae000000-0000-0000-0000-000000000001')$$, '42501', null, 'anon cannot call api.balance');
reset role;
set local role authenticated;
select throws_ok($$select api.grant('ae000000-0000-0000-0000-000000000001', 100, 'promo', 'self-service')$$, '42501', null,
  'authenticated cannot grant itself credits');
select throws_ok($$select api.ensure_account('ae000000-0000-0000-0000-000000000002', 1000)$$, '42501', null,
  'authenticated cannot call api.ensure_account');
reset role;
set local role service_role;
select throws_ok($$select * from credits.accounts$$, '42501', null, 'service_role has no privilege on credits tables');
reset role;

set local role tollgate_api;
select results_eq($$select balance, held, available from api.balance('ae000000-0000-0000-0000-000000000001')$$,
  $$values (5::bigint, 0::bigint, 5::bigint)$$, 'tollgate_api can call api.balance');
select lives_ok($$select api.charge('ae000000-0000-0000-0000-000000000001', 1, 'img-1')$$, 'tollgate_api can charge');
select throws_ok($$select * from credits.accounts$$, '42501', null, 'tollgate_api cannot read credits tables');
select throws_ok($$insert into credits.ledger (account_id, kind, cause_type, cause_key, reason, delta)
                   values ('ae000000-0000-0000-0000-000000000001', 'grant', 'grant', 'x', 'promo', 5)$$,
  '42501', null, 'tollgate_api cannot write the ledger directly');
select throws_ok($$select credits.settle_job('ae000000-0000-0000-0000-000000000001', 'committed', 1)$$,
  '42501', null, 'tollgate_api cannot call the internal credits functions');
reset role;

select * from finish();
rollback;
