-- Invariant 1: for every account balance = Σ ledger.delta, held = Σ pending job amounts,
-- available = balance - held >= 0; the cached totals cannot be written directly.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(14);

-- A realistic mix of every kind of movement on two accounts.
select api.ensure_account('b1000000-0000-0000-0000-000000000001', 20);
select api.ensure_account('b1000000-0000-0000-0000-000000000002', 3);
select api.grant('b1000000-0000-0000-0000-000000000001', 7, 'promo', 'promo:WELCOME');
select api.charge('b1000000-0000-0000-0000-000000000001', 4, 'img-1');
select api.refund('b1000000-0000-0000-0000-000000000001', 'img-1', 3);
create temp table t_jobs as
  select 'commit' as what, j.* from api.start_job('b1000000-0000-0000-0000-000000000001', 5, 60, null, 'k-commit', extensions.digest('t1', 'sha256')) j
  union all
  select 'cancel', j.* from api.start_job('b1000000-0000-0000-0000-000000000001', 3, 60, null, 'k-cancel', extensions.digest('t2', 'sha256')) j
  union all
  select 'open', j.* from api.start_job('b1000000-0000-0000-0000-000000000001', 2, 60, null, 'k-open', extensions.digest('t3', 'sha256')) j
  union all
  select 'other', j.* from api.start_job('b1000000-0000-0000-0000-000000000002', 2, 60, null, 'k-other', extensions.digest('t4', 'sha256')) j;
select api.spend_on_job('b1000000-0000-0000-0000-000000000001', (select job_id from t_jobs where what = 'commit'), 2, 'gen-1');
select api.commit_job('b1000000-0000-0000-0000-000000000001', (select job_id from t_jobs where what = 'commit'), 4);
select api.spend_on_job('b1000000-0000-0000-0000-000000000001', (select job_id from t_jobs where what = 'cancel'), 1, 'gen-2');
select api.cancel_job('b1000000-0000-0000-0000-000000000001', (select job_id from t_jobs where what = 'cancel'));

select is(
  (select count(*) from credits.accounts a
    where a.balance <> (select coalesce(sum(l.delta), 0) from credits.ledger l where l.account_id = a.id)),
  0::bigint, 'every account''s balance equals the sum of its ledger deltas');
select is(
  (select count(*) from credits.accounts a
    where a.held <> (select coalesce(sum(j.amount), 0) from credits.jobs j where j.account_id = a.id and j.status = 'pending')),
  0::bigint, 'every account''s held equals the sum of its pending job amounts');
select results_eq(
  $$select balance, held, available from api.balance('b1000000-0000-0000-0000-000000000001')$$,
  $$values ((20 + 7 - 4 + 3 - 4 - 1)::bigint, 2::bigint, (20 + 7 - 4 + 3 - 4 - 1 - 2)::bigint)$$,
  'balance = 20 + 7 - 4 + 3 - 4 (commit) - 1 (cancel after a spend of 1), held = the open job');
select results_eq(
  $$select balance, held, available from api.balance('b1000000-0000-0000-0000-000000000002')$$,
  $$values (3::bigint, 2::bigint, 1::bigint)$$, 'the second account is untouched by the first one''s movements');
select is((select count(*) from ops.verify_ledger_chains() where not ok), 0::bigint,
  'every account''s hash chain and cached totals verify');
select is(
  (select count(*) from credits.ledger l
    where l.balance_after <> (select sum(x.delta) from credits.ledger x where x.account_id = l.account_id and x.seq <= l.seq)),
  0::bigint, 'every ledger row''s balance_after is the running sum up to it');

-- A ledger row written directly by the owner still moves the cached balance (by construction).
insert into credits.ledger (account_id, kind, cause_type, cause_key, reason, delta)
values ('b1000000-0000-0000-0000-000000000002', 'grant', 'grant', 'direct-insert', 'admin', 4);
select is((select balance from credits.accounts where id = 'b1000000-0000-0000-0000-000000000002'), 7::bigint,
  'a direct ledger insert updates the cached balance in the same statement');

-- Negative cases: the totals are derived, never written; nothing may overdraw.
select throws_ok(
  $$update credits.accounts set balance = balance + 100 where id = 'b1000000-0000-0000-0000-000000000001'$$,
  'P0001', 'ACCOUNT_TOTALS_ARE_DERIVED', 'accounts.balance cannot be written directly');
select throws_ok(
  $$update credits.accounts set held = 0 where id = 'b1000000-0000-0000-0000-000000000001'$$,
  'P0001', 'ACCOUNT_TOTALS_ARE_DERIVED', 'accounts.held cannot be written directly');
select throws_ok(
  $$insert into credits.accounts (id, balance) values ('b1000000-0000-0000-0000-000000000003', 50)$$,
  'P0001', 'ACCOUNT_TOTALS_ARE_DERIVED', 'a new account cannot start with a balance');
select throws_ok(
  $$insert into credits.ledger (account_id, kind, cause_type, cause_key, delta)
    values ('b1000000-0000-0000-0000-000000000002', 'charge', 'charge', 'overdraw', -1000)$$,
  '23514', null, 'a ledger row that would overdraw the account is rejected by a check constraint');
select throws_ok(
  $$insert into credits.ledger (account_id, kind, cause_type, cause_key, delta)
    values ('b1000000-0000-0000-0000-000000000002', 'charge', 'charge', 'free', -6)$$,
  '23514', null, 'a debit into held credits is rejected (held <= balance): available never goes below 0');
select throws_ok(
  $$insert into credits.ledger (account_id, kind, cause_type, cause_key, reason, delta)
    values ('b1000000-0000-0000-0000-000000000002', 'grant', 'grant', 'zero', 'admin', 0)$$,
  '23514', null, 'a ledger row with delta 0 is rejected');
select throws_ok(
  $$select api.charge('b1000000-0000-0000-0000-000000000001', 1000, 'too-much')$$,
  'P0001', 'INSUFFICIENT_CREDITS', 'a charge above available raises INSUFFICIENT_CREDITS');

select * from finish();
rollback;
