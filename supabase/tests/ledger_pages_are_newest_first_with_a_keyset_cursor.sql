-- api.ledger_page returns an account's rows newest first; the cursor (the last id seen) gives
-- the next page, never another account's rows.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(7);

select api.ensure_account('b0000000-0000-0000-0000-000000000001', 10);
select api.ensure_account('b0000000-0000-0000-0000-000000000002', 10);
select api.charge('b0000000-0000-0000-0000-000000000001', 1, 'c' || i) from generate_series(1, 4) i;
select api.charge('b0000000-0000-0000-0000-000000000002', 1, 'other-' || i) from generate_series(1, 3) i;
select api.charge('b0000000-0000-0000-0000-000000000001', 1, 'c5');

select results_eq($$select cause_key, balance_after from api.ledger_page('b0000000-0000-0000-0000-000000000001', 3)$$,
  $$values ('c5'::text, 5::bigint), ('c4'::text, 6::bigint), ('c3'::text, 7::bigint)$$, 'the first page is the 3 newest rows');
select results_eq(
  $$select cause_key from api.ledger_page('b0000000-0000-0000-0000-000000000001', 3,
      (select min(id) from api.ledger_page('b0000000-0000-0000-0000-000000000001', 3)))$$,
  $$values ('c2'::text), ('c1'::text), ('b0000000-0000-0000-0000-000000000001'::text)$$,
  'the cursor continues exactly where the first page ended');
select is_empty($$select 1 from api.ledger_page('b0000000-0000-0000-0000-000000000001', 3,
      (select min(id) from credits.ledger where account_id = 'b0000000-0000-0000-0000-000000000001'))$$,
  'past the oldest row there is nothing');
select is((select count(*) from api.ledger_page('b0000000-0000-0000-0000-000000000001', 1000)
            where cause_key like 'other-%'), 0::bigint, 'another account''s rows never appear');
select results_eq(
  $$select cause_key from api.ledger_page('b0000000-0000-0000-0000-000000000001', 2,
      (select max(id) from credits.ledger where account_id = 'b0000000-0000-0000-0000-000000000002'))$$,
  $$values ('c4'::text), ('c3'::text)$$, 'a cursor taken from another account''s id still means "id < cursor"');
select throws_ok($$select api.ledger_page('b0000000-0000-0000-0000-000000000001', 0)$$,
  'P0001', 'VALIDATION_FAILED', 'a limit of 0 is invalid');
select throws_ok($$select api.ledger_page('b0000000-0000-0000-0000-000000000001', 1001)$$,
  'P0001', 'VALIDATION_FAILED', 'a limit above 1000 is invalid');

select * from finish();
rollback;
