-- Reconciliation catches what a superuser changes behind the triggers' back
-- (session_replication_role = replica): a changed ledger row, a deleted row, a cached balance or
-- held total that no longer adds up. Each run writes a report row, a new discrepancy raises one
-- alert, an open discrepancy is not reported twice, and a full run closes what was fixed.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(24);

select api.ensure_account('e7000000-0000-0000-0000-000000000001', 10);
select api.charge('e7000000-0000-0000-0000-000000000001', 2, 'rc-1');
select api.grant('e7000000-0000-0000-0000-000000000001', 5, 'promo', 'promo:rc');
select api.charge('e7000000-0000-0000-0000-000000000001', 1, 'rc-2');
select api.ensure_account('e7000000-0000-0000-0000-000000000002', 4);
select api.ensure_account('e7000000-0000-0000-0000-000000000003', 6);
create temp table t_rows as select * from credits.ledger where account_id = 'e7000000-0000-0000-0000-000000000001';
create temp table t_run (label text primary key, run ops.reconcile_runs);

-- a clean ledger reconciles without findings
insert into t_run select 'clean', ops.reconcile('full');
select is((select (run).status from t_run where label = 'clean'), 'ok', 'a full run over an untouched ledger is ok');
select ok((select (run).accounts_checked >= 3 and (run).rows_checked >= 6 and (run).discrepancies = 0
             and (run).duration_ms is not null from t_run where label = 'clean'),
  'its report counts accounts and rows checked, no discrepancies, and a duration');
select is((select count(*) from ops.reconcile_runs r where r.id = (select (run).id from t_run where label = 'clean')), 1::bigint,
  'the run wrote its report row');
select is((select count(*) from ops.alerts where rule = 'reconcile.discrepancy'), 0::bigint, 'no alert for a clean run');

-- 1. a changed ledger row (content only): hash mismatch at that row
set local session_replication_role = replica;
update credits.ledger set cause_key = 'promo:forged'
 where account_id = 'e7000000-0000-0000-0000-000000000001' and seq = 3;
set local session_replication_role = origin;
insert into t_run select 'changed', ops.reconcile('full');
select is((select (run).status from t_run where label = 'changed'), 'discrepancies', 'the full run reports discrepancies');
select results_eq(
  $$select problem, ledger_id from ops.reconcile_discrepancies where resolved_at is null and account_id = 'e7000000-0000-0000-0000-000000000001'$$,
  $$select 'hash_mismatch'::text, id from t_rows where seq = 3$$,
  'a changed row is found at that row as a hash mismatch');
select is((select count(*) from ops.alerts where rule = 'reconcile.discrepancy'), 1::bigint, 'the discrepancy raised one alert');
select is((select channel || '/' || severity from ops.alerts where rule = 'reconcile.discrepancy'), 'error/critical',
  'on the error channel, critical');
select ok((select details -> 'accounts' ? 'e7000000-0000-0000-0000-000000000001' from ops.alerts where rule = 'reconcile.discrepancy'),
  'the alert names the account');

-- the same finding again: still reported, not re-opened, no second alert
insert into t_run select 'again', ops.reconcile('full');
select is((select (run).discrepancies || '/' || (run).new_discrepancies from t_run where label = 'again'), '1/0',
  'a second run sees it again but it is not new');
select is((select count(*) from ops.alerts where rule = 'reconcile.discrepancy'), 1::bigint, 'and raises no second alert');

-- the incremental run re-verifies the bad row too: the checkpoint never moved past it
insert into t_run select 'incremental-bad', ops.reconcile();
select is((select (run).discrepancies from t_run where label = 'incremental-bad'), 1,
  'an incremental run still sees the bad row (its checkpoint stays before it)');

-- fixing the row resolves the discrepancy on the next full run
set local session_replication_role = replica;
update credits.ledger l set cause_key = t.cause_key from t_rows t where l.id = t.id;
set local session_replication_role = origin;
insert into t_run select 'fixed', ops.reconcile('full');
select is((select (run).status from t_run where label = 'fixed'), 'ok', 'after the repair a full run is ok');
select is((select count(*) from ops.reconcile_discrepancies where resolved_at is null), 0::bigint,
  'and marks the discrepancy resolved');

-- 2. a deleted row in the middle: seq gap at the next row (and the balance no longer adds up)
set local session_replication_role = replica;
delete from credits.ledger where account_id = 'e7000000-0000-0000-0000-000000000001' and seq = 2;
set local session_replication_role = origin;
select ops.reconcile('full');
select results_eq(
  $$select problem from ops.reconcile_discrepancies where resolved_at is null order by problem$$,
  $$values ('balance_mismatch'::text), ('seq_gap')$$,
  'a deleted row is a seq gap, and the cached balance no longer equals the sum of the ledger');
select is((select ledger_id from ops.reconcile_discrepancies where resolved_at is null and problem = 'seq_gap'),
  (select id from t_rows where seq = 3), 'the gap is reported at the row after the deleted one');
set local session_replication_role = replica;
insert into credits.ledger overriding system value select * from t_rows where seq = 2;
set local session_replication_role = origin;
select ops.reconcile('full');
select is((select count(*) from ops.reconcile_discrepancies where resolved_at is null), 0::bigint,
  'restoring the row clears it');

-- 3. a cached balance changed behind the ledger's back: found by the incremental run as well
select api.charge('e7000000-0000-0000-0000-000000000002', 1, 'rc-3');  -- the account becomes active
set local session_replication_role = replica;
update credits.accounts set balance = balance + 100 where id = 'e7000000-0000-0000-0000-000000000002';
set local session_replication_role = origin;
insert into t_run select 'balance', ops.reconcile();
select results_eq(
  $$select problem, expected, actual from ops.reconcile_discrepancies
     where resolved_at is null and account_id = 'e7000000-0000-0000-0000-000000000002'$$,
  $$values ('balance_mismatch'::text, '3'::text, '103'::text)$$,
  'an incremental run finds a cached balance that differs from the ledger');

-- 4. a cached held total without pending jobs: only the full run looks at idle accounts
--    (no id lookback here: in this tiny ledger it would cover every row)
update ops.settings set value = '0' where key = 'reconcile.id_lookback';
select ops.reconcile();
set local session_replication_role = replica;
update credits.accounts set held = 2 where id = 'e7000000-0000-0000-0000-000000000003';
set local session_replication_role = origin;
insert into t_run select 'held-incremental', ops.reconcile();
select is((select count(*) from ops.reconcile_discrepancies where resolved_at is null and account_id = 'e7000000-0000-0000-0000-000000000003'),
  0::bigint, 'an incremental run does not read idle accounts');
insert into t_run select 'held-full', ops.reconcile('full');
select results_eq(
  $$select problem, expected, actual from ops.reconcile_discrepancies
     where resolved_at is null and account_id = 'e7000000-0000-0000-0000-000000000003'$$,
  $$values ('held_mismatch'::text, '0'::text, '2'::text)$$,
  'the full run finds a cached held total that differs from the pending jobs');
select is((select count(*) from ops.alerts where rule = 'reconcile.discrepancy'), 4::bigint,
  'every run with new discrepancies raised its own alert');

-- runs do not overlap, and bad input is refused
select throws_ok($$select ops.reconcile('sometimes')$$, 'P0001', 'VALIDATION_FAILED', 'an unknown mode is refused');
select throws_ok($$select ops.reconcile(null)$$, 'P0001', 'VALIDATION_FAILED', 'a null mode is refused');
set local role tollgate_api;
select throws_ok($$select ops.reconcile()$$, '42501', null, 'the function role cannot run reconcile');
reset role;

select * from finish();
rollback;
