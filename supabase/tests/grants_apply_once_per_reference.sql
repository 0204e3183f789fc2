-- Grants (promo, purchase, admin, ...) apply at most once per (account, reference).
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(12);

select api.ensure_account('ab000000-0000-0000-0000-000000000001', 0);
select api.ensure_account('ab000000-0000-0000-0000-000000000002', 0);

select results_eq($$select amount, balance, available, applied from api.grant('ab000000-0000-0000-0000-000000000001', 5, 'purchase', 'appstore:2000000001')$$,
  $$values (5::bigint, 5::bigint, 5::bigint, true)$$, 'a purchase grant credits 5');
select results_eq($$select amount, balance, applied from api.grant('ab000000-0000-0000-0000-000000000001', 5, 'purchase', 'appstore:2000000001')$$,
  $$values (5::bigint, 5::bigint, false)$$, 'the same reference again credits nothing');
select is((select ledger_id from api.grant('ab000000-0000-0000-0000-000000000001', 5, 'purchase', 'appstore:2000000001')),
  (select id from credits.ledger where cause_key = 'appstore:2000000001' and account_id = 'ab000000-0000-0000-0000-000000000001'),
  'and returns the original ledger row');
select throws_ok($$select api.grant('ab000000-0000-0000-0000-000000000001', 6, 'purchase', 'appstore:2000000001')$$,
  'P0001', 'IDEMPOTENCY_KEY_REUSED', 'the same reference with another amount is refused');
select throws_ok($$select api.grant('ab000000-0000-0000-0000-000000000001', 5, 'promo', 'appstore:2000000001')$$,
  'P0001', 'IDEMPOTENCY_KEY_REUSED', 'the same reference with another reason is refused');
select throws_ok($$select api.grant('ab000000-0000-0000-0000-000000000001', 0, 'promo', 'promo:zero')$$,
  'P0001', 'VALIDATION_FAILED', 'a grant of 0 is invalid');
select throws_ok($$select api.grant('ab000000-0000-0000-0000-000000000001', 1, 'Promo Code!', 'promo:x')$$,
  'P0001', 'VALIDATION_FAILED', 'a reason must be lower snake case');
select throws_ok($$select api.grant('ab000000-0000-0000-0000-0000000000ff', 1, 'promo', 'promo:x')$$,
  'P0001', 'NOT_FOUND', 'an account that does not exist cannot be granted to');
select throws_ok($$insert into credits.ledger (account_id, kind, cause_type, cause_key, reason, delta)
                   values ('ab000000-0000-0000-0000-000000000001', 'grant', 'grant', 'appstore:2000000001', 'purchase', 5)$$,
  '23505', null, 'even the owner cannot apply the reference twice (unique cause)');
select is((select applied from api.grant('ab000000-0000-0000-0000-000000000002', 5, 'promo', 'promo:SPRING')), true,
  'references are per account: another account''s promo applies');
select is((select applied from api.grant('ab000000-0000-0000-0000-000000000001', 5, 'promo', 'promo:SPRING')), true,
  'and the first account''s too');
select results_eq($$select a.id, a.balance from credits.accounts a where a.id::text like 'ab000000%' order by a.id$$,
  $$values ('ab000000-0000-0000-0000-000000000001'::uuid, 10::bigint), ('ab000000-0000-0000-0000-000000000002'::uuid, 5::bigint)$$,
  'each grant was applied exactly once');

select * from finish();
rollback;
