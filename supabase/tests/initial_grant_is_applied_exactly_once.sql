-- The first ensure_account of an account grants INITIAL_GRANT exactly once; later calls (with
-- any amount) change nothing. (Concurrent first calls: tests/concurrency.)
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(11);

select results_eq($$select balance, held, available, created from api.ensure_account('ac000000-0000-0000-0000-000000000001', 3)$$,
  $$values (3::bigint, 0::bigint, 3::bigint, true)$$, 'the first call creates the account with the initial grant');
select results_eq($$select balance, created from api.ensure_account('ac000000-0000-0000-0000-000000000001', 3)$$,
  $$values (3::bigint, false)$$, 'a second call grants nothing');
select results_eq($$select balance, created from api.ensure_account('ac000000-0000-0000-0000-000000000001', 50)$$,
  $$values (3::bigint, false)$$, 'a later call with a bigger INITIAL_GRANT grants nothing either');
select results_eq($$select kind, cause_type, cause_key, reason, delta from credits.ledger where account_id = 'ac000000-0000-0000-0000-000000000001'$$,
  $$values ('initial_grant'::text, 'account'::text, 'ac000000-0000-0000-0000-000000000001'::text, 'initial_grant'::text, 3::bigint)$$,
  'one initial_grant ledger row keyed by the account id');
select throws_ok($$insert into credits.ledger (account_id, kind, cause_type, cause_key, reason, delta)
                   values ('ac000000-0000-0000-0000-000000000001', 'initial_grant', 'account', 'ac000000-0000-0000-0000-000000000001', 'initial_grant', 3)$$,
  '23505', null, 'even the owner cannot write a second initial grant');

select results_eq($$select balance, created from api.ensure_account('ac000000-0000-0000-0000-000000000002', 0)$$,
  $$values (0::bigint, true)$$, 'an initial grant of 0 creates an empty account');
select is((select count(*) from credits.ledger where account_id = 'ac000000-0000-0000-0000-000000000002'), 0::bigint,
  'with no ledger row');
select results_eq($$select balance, created from api.ensure_account('ac000000-0000-0000-0000-000000000002', 3)$$,
  $$values (0::bigint, false)$$, 'the first call decided: no grant later');

select throws_ok($$select api.ensure_account('ac000000-0000-0000-0000-000000000003', -1)$$,
  'P0001', 'VALIDATION_FAILED', 'a negative initial grant is invalid');
select throws_ok($$select api.ensure_account(null, 3)$$, 'P0001', 'VALIDATION_FAILED', 'an account id is required');
select throws_ok($$insert into credits.accounts (id) values ('ac000000-0000-0000-0000-000000000001')$$,
  '23505', null, 'an account exists once');

select * from finish();
rollback;
