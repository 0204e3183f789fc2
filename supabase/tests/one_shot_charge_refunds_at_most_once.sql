-- One-shot charges debit at once, at most once per reference; a refund applies at most once and
-- never returns more than was charged.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(21);

select api.ensure_account('aa000000-0000-0000-0000-000000000001', 10);

select results_eq($$select amount, refunded, status, balance, available, applied from api.charge('aa000000-0000-0000-0000-000000000001', 4, 'img-1')$$,
  $$values (4::bigint, 0::bigint, 'charged'::text, 6::bigint, 6::bigint, true)$$, 'a charge of 4 debits at once');
select results_eq($$select balance, applied from api.charge('aa000000-0000-0000-0000-000000000001', 4, 'img-1')$$,
  $$values (6::bigint, false)$$, 'repeating the charge reference debits nothing more');
select throws_ok($$select api.charge('aa000000-0000-0000-0000-000000000001', 5, 'img-1')$$,
  'P0001', 'IDEMPOTENCY_KEY_REUSED', 'the same reference with another amount is refused');
select throws_ok($$select api.charge('aa000000-0000-0000-0000-000000000001', 7, 'img-2')$$,
  'P0001', 'INSUFFICIENT_CREDITS', 'a charge above available is refused');
select is((select count(*) from credits.ledger where cause_key = 'img-2'), 0::bigint, 'and leaves nothing behind');
select throws_ok($$select api.charge('aa000000-0000-0000-0000-000000000001', 0, 'img-3')$$,
  'P0001', 'VALIDATION_FAILED', 'a charge of 0 is invalid');
select throws_ok($$select api.charge('aa000000-0000-0000-0000-000000000001', 1, '')$$,
  'P0001', 'VALIDATION_FAILED', 'an empty reference is invalid');

select throws_ok($$select api.refund('aa000000-0000-0000-0000-000000000001', 'img-1', 5)$$,
  'P0001', 'VALIDATION_FAILED', 'refunding more than was charged is refused');
select results_eq($$select refunded, status, balance, applied from api.refund('aa000000-0000-0000-0000-000000000001', 'img-1')$$,
  $$values (4::bigint, 'refunded'::text, 10::bigint, true)$$, 'a refund returns the whole charge by default');
select results_eq($$select refunded, balance, applied from api.refund('aa000000-0000-0000-0000-000000000001', 'img-1')$$,
  $$values (4::bigint, 10::bigint, false)$$, 'a second refund changes nothing');
select throws_ok($$select api.refund('aa000000-0000-0000-0000-000000000001', 'img-404')$$,
  'P0001', 'NOT_FOUND', 'an unknown charge cannot be refunded');
select throws_ok($$insert into credits.ledger (account_id, kind, cause_type, cause_key, delta)
                   values ('aa000000-0000-0000-0000-000000000001', 'refund', 'charge', 'img-1', 4)$$,
  '23505', null, 'even the owner cannot write a second refund row for the charge');
select throws_ok($$delete from credits.ledger where cause_key = 'img-1'$$,
  'P0001', 'LEDGER_IS_APPEND_ONLY', 'charge rows cannot be deleted to reuse their reference');

-- partial refund, then nothing more
select api.charge('aa000000-0000-0000-0000-000000000001', 3, 'img-4');
select results_eq($$select refunded, balance, applied from api.refund('aa000000-0000-0000-0000-000000000001', 'img-4', 1)$$,
  $$values (1::bigint, 8::bigint, true)$$, 'a partial refund of 1 of 3');
select results_eq($$select refunded, balance, applied from api.refund('aa000000-0000-0000-0000-000000000001', 'img-4', 2)$$,
  $$values (1::bigint, 8::bigint, false)$$, 'is the only refund of that charge');
select results_eq($$select kind, delta from credits.ledger where cause_key = 'img-4' order by id$$,
  $$values ('charge'::text, -3::bigint), ('refund'::text, 1::bigint)$$, 'one charge row and one refund row');
select throws_ok($$update credits.ledger set delta = 3 where cause_key = 'img-4' and kind = 'refund'$$,
  'P0001', 'LEDGER_IS_APPEND_ONLY', 'even the owner cannot change a refund');
select api.charge('aa000000-0000-0000-0000-000000000001', 2, 'img-5');
select throws_ok($$insert into credits.ledger (account_id, kind, cause_type, cause_key, delta)
                   values ('aa000000-0000-0000-0000-000000000001', 'refund', 'charge', 'img-5', 3)$$,
  'P0001', 'REFUND_EXCEEDS_CHARGE', 'even the owner cannot refund more than was charged');
select throws_ok($$insert into credits.ledger (account_id, kind, cause_type, cause_key, delta)
                   values ('aa000000-0000-0000-0000-000000000001', 'refund', 'charge', 'img-404', 1)$$,
  'P0001', 'REFUND_EXCEEDS_CHARGE', 'even the owner cannot refund a charge that does not exist');
select results_eq($$select amount, refunded, status, applied from api.charge('aa000000-0000-0000-0000-000000000001', 3, 'img-4')$$,
  $$values (3::bigint, 1::bigint, 'refunded'::text, false)$$, 'replaying a refunded charge reports the refund and changes nothing');
select is((select count(*) from ops.verify_ledger_chains() where not ok), 0::bigint, 'all chains and cached totals verify');

select * from finish();
rollback;
