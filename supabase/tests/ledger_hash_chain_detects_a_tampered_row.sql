-- The ledger is tamper-evident: every row's SHA-256 hash covers its content and the previous
-- row's hash. A superuser who bypasses the append-only triggers (session_replication_role =
-- replica) to change, forge or delete rows is caught by api.verify_ledger_chain.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(16);

select api.ensure_account('d3000000-0000-0000-0000-000000000001', 10);
select api.charge('d3000000-0000-0000-0000-000000000001', 2, 'img-1');
select api.grant('d3000000-0000-0000-0000-000000000001', 5, 'promo', 'promo:A');
select api.charge('d3000000-0000-0000-0000-000000000001', 1, 'img-2');
select api.ensure_account('d3000000-0000-0000-0000-000000000002', 4);
create temp table t_rows as
  select * from credits.ledger
   where account_id = 'd3000000-0000-0000-0000-000000000001';

select results_eq($$select ok, rows_checked, first_bad_id, problem from api.verify_ledger_chain('d3000000-0000-0000-0000-000000000001')$$,
  $$values (true, 4::bigint, null::bigint, null::text)$$, 'an untouched chain verifies');
select is((select prev_hash from credits.ledger where account_id = 'd3000000-0000-0000-0000-000000000001' and seq = 1),
  repeat('0', 64), 'the first row chains to the all-zero genesis hash');
select is((select count(*) from credits.ledger l join credits.ledger p on p.account_id = l.account_id and p.seq = l.seq - 1
            where l.account_id = 'd3000000-0000-0000-0000-000000000001' and l.prev_hash = p.hash), 3::bigint,
  'every later row chains to its predecessor''s hash');

-- The triggers stop everyone who does not disable them.
select throws_ok($$update credits.ledger set cause_key = 'x' where account_id = 'd3000000-0000-0000-0000-000000000001'$$,
  'P0001', 'LEDGER_IS_APPEND_ONLY', 'tampering without disabling triggers is refused');

-- 1. change a row's content (the cause) with triggers disabled
set local session_replication_role = replica;
update credits.ledger set cause_key = 'promo:B' where account_id = 'd3000000-0000-0000-0000-000000000001' and seq = 3;
set local session_replication_role = origin;
select results_eq($$select ok, first_bad_id, problem from api.verify_ledger_chain('d3000000-0000-0000-0000-000000000001')$$,
  $$select false, id, 'hash does not match the row''s content'::text from t_rows where seq = 3$$,
  'a changed cause_key is caught at that row (hash mismatch)');

-- 2. forge a row consistently (new delta, balance_after and a recomputed hash): the next row's
--    prev_hash no longer matches
set local session_replication_role = replica;
update credits.ledger l set cause_key = 'promo:A', delta = 50, balance_after = balance_after + 45
 where account_id = 'd3000000-0000-0000-0000-000000000001' and seq = 3;
update credits.ledger l set hash = credits.ledger_row_hash(l.id, l.account_id, l.seq, l.kind, l.cause_type, l.cause_key,
                                                          l.reason, l.delta, l.balance_after, l.created_at, l.prev_hash)
 where account_id = 'd3000000-0000-0000-0000-000000000001' and seq = 3;
set local session_replication_role = origin;
select results_eq($$select ok, first_bad_id, problem from api.verify_ledger_chain('d3000000-0000-0000-0000-000000000001')$$,
  $$select false, id, 'prev_hash does not match the previous row''s hash'::text from t_rows where seq = 4$$,
  'a forged row with a recomputed hash is caught at the next row (chain broken)');

-- restore the original row: the chain verifies again
set local session_replication_role = replica;
update credits.ledger l set cause_key = t.cause_key, delta = t.delta, balance_after = t.balance_after, hash = t.hash
  from t_rows t where l.id = t.id;
set local session_replication_role = origin;
select is((select ok from api.verify_ledger_chain('d3000000-0000-0000-0000-000000000001')), true,
  'restoring the original values makes the chain verify again');

-- 3. change only balance_after of one row
set local session_replication_role = replica;
update credits.ledger set balance_after = balance_after + 1 where account_id = 'd3000000-0000-0000-0000-000000000001' and seq = 2;
set local session_replication_role = origin;
select results_eq($$select ok, first_bad_id from api.verify_ledger_chain('d3000000-0000-0000-0000-000000000001')$$,
  $$select false, id from t_rows where seq = 2$$, 'a changed balance_after is caught at that row');
set local session_replication_role = replica;
update credits.ledger l set balance_after = t.balance_after from t_rows t where l.id = t.id;
set local session_replication_role = origin;

-- 4. delete a row in the middle
set local session_replication_role = replica;
delete from credits.ledger where account_id = 'd3000000-0000-0000-0000-000000000001' and seq = 2;
set local session_replication_role = origin;
select results_eq($$select ok, first_bad_id, problem from api.verify_ledger_chain('d3000000-0000-0000-0000-000000000001')$$,
  $$select false, id, 'a row before this one is missing (seq gap)'::text from t_rows where seq = 3$$,
  'a deleted row is caught at the row after it');
select is((select count(*) from ops.verify_ledger_chains() where not ok), 1::bigint,
  'ops.verify_ledger_chains reports exactly the tampered account');
select is((select ok from ops.verify_ledger_chains() where account_id = 'd3000000-0000-0000-0000-000000000002'), true,
  'and reports the untouched account as intact');
select is((select count(*) from audit.ledger_chain_status where not ok), 1::bigint, 'the audit view shows it too');

-- restore the deleted row exactly as it was: the chain verifies again
set local session_replication_role = replica;
insert into credits.ledger overriding system value select * from t_rows where seq = 2;
set local session_replication_role = origin;
select is((select ok from api.verify_ledger_chain('d3000000-0000-0000-0000-000000000001')), true,
  'the exact original row restores the chain');

-- 5. delete an account's LAST row: no later row can notice, the cached balance does
set local session_replication_role = replica;
delete from credits.ledger where account_id = 'd3000000-0000-0000-0000-000000000002';
set local session_replication_role = origin;
select results_eq($$select ok, rows_checked, first_bad_id, problem from api.verify_ledger_chain('d3000000-0000-0000-0000-000000000002')$$,
  $$values (false, 0::bigint, null::bigint, 'accounts.balance differs from the ledger''s last balance_after'::text)$$,
  'deleting an account''s last row is caught by the cached balance');

-- 6. the cached held total is checked too
set local session_replication_role = replica;
update credits.accounts set held = 1 where id = 'd3000000-0000-0000-0000-000000000001';
set local session_replication_role = origin;
select is((select problem from api.verify_ledger_chain('d3000000-0000-0000-0000-000000000001')),
  'accounts.held differs from the sum of pending job amounts', 'a changed cached held total is caught');

-- 7. verification is not for clients
set local role authenticated;
select throws_ok($$select api.verify_ledger_chain('d3000000-0000-0000-0000-000000000001')$$, '42501', null,
  'authenticated cannot call api.verify_ledger_chain');
reset role;

select * from finish();
rollback;
