-- Invariant 2: UPDATE, DELETE and TRUNCATE on credits.ledger raise for every role: the owner
-- (and superuser) and service_role even after it is granted the privileges explicitly.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(12);

select api.ensure_account('c2000000-0000-0000-0000-000000000001', 5);
select api.charge('c2000000-0000-0000-0000-000000000001', 2, 'img-1');
create temp table t_before as select id, hash from credits.ledger where account_id = 'c2000000-0000-0000-0000-000000000001';

-- as the owner
select throws_ok($$update credits.ledger set delta = 100$$, 'P0001', 'LEDGER_IS_APPEND_ONLY', 'the owner cannot UPDATE ledger rows');
select throws_ok($$delete from credits.ledger$$, 'P0001', 'LEDGER_IS_APPEND_ONLY', 'the owner cannot DELETE ledger rows');
-- CASCADE: other tables may reference ledger rows (e.g. promo redemptions); without it Postgres
-- refuses before the trigger even runs, with CASCADE it is the trigger that refuses.
select throws_ok($$truncate credits.ledger cascade$$, 'P0001', 'LEDGER_IS_APPEND_ONLY', 'the owner cannot TRUNCATE the ledger');
select throws_ok($$truncate credits.accounts cascade$$, 'P0001', 'LEDGER_IS_APPEND_ONLY',
  'TRUNCATE ... CASCADE from accounts cannot empty the ledger either');
select throws_ok($$update credits.ledger set created_at = now() - interval '1 day' where kind = 'charge'$$,
  'P0001', 'LEDGER_IS_APPEND_ONLY', 'the owner cannot backdate a ledger row');

-- as service_role, given every privilege (it bypasses RLS too): the triggers still refuse
grant usage on schema credits to service_role;
grant select, update, delete, truncate on credits.ledger to service_role;
grant select, truncate on all tables in schema credits to service_role;
set local role service_role;
select throws_ok($$update credits.ledger set delta = 100$$, 'P0001', 'LEDGER_IS_APPEND_ONLY', 'service_role cannot UPDATE ledger rows');
select throws_ok($$delete from credits.ledger$$, 'P0001', 'LEDGER_IS_APPEND_ONLY', 'service_role cannot DELETE ledger rows');
select throws_ok($$truncate credits.ledger cascade$$, 'P0001', 'LEDGER_IS_APPEND_ONLY', 'service_role cannot TRUNCATE the ledger');
reset role;

-- as a client: no privilege at all
set local role authenticated;
select throws_ok($$delete from credits.ledger$$, '42501', null, 'authenticated has no DELETE privilege on the ledger');
reset role;

select is((select count(*) from credits.ledger where account_id = 'c2000000-0000-0000-0000-000000000001'), 2::bigint,
  'both ledger rows are still there');
select set_eq($$select id, hash from credits.ledger where account_id = 'c2000000-0000-0000-0000-000000000001'$$,
  $$select id, hash from t_before$$, 'and unchanged');
select lives_ok($$insert into credits.ledger (account_id, kind, cause_type, cause_key, reason, delta)
  values ('c2000000-0000-0000-0000-000000000001', 'grant', 'grant', 'fix-1', 'support', 1)$$,
  'mistakes are corrected by appending a compensating row');

select * from finish();
rollback;
