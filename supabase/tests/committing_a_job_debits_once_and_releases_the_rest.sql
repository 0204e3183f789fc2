-- Commit debits the actual amount (spent <= actual <= held, default: all) in ONE ledger row
-- keyed by the job and releases the rest; a job is debited at most once (invariant 3).
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(20);

select api.ensure_account('f5000000-0000-0000-0000-000000000001', 10);
select api.ensure_account('f5000000-0000-0000-0000-000000000002', 10);
create temp table t_job as
  select * from api.start_job('f5000000-0000-0000-0000-000000000001', 6, 60, null, null, extensions.digest('t1', 'sha256'));
select api.spend_on_job('f5000000-0000-0000-0000-000000000001', (select job_id from t_job), 2, 'gen-1');

select throws_ok(format($$select api.commit_job('f5000000-0000-0000-0000-000000000001', %L, 7)$$, (select job_id from t_job)),
  'P0001', 'INSUFFICIENT_CREDITS', 'committing more than the hold is refused');
select throws_ok(format($$select api.commit_job('f5000000-0000-0000-0000-000000000001', %L, 1)$$, (select job_id from t_job)),
  'P0001', 'VALIDATION_FAILED', 'committing less than was already spent is refused');
select throws_ok(format($$select api.commit_job('f5000000-0000-0000-0000-000000000002', %L, 3)$$, (select job_id from t_job)),
  'P0001', 'JOB_NOT_FOUND', 'another account cannot commit the job (and cannot tell it exists)');
select throws_ok($$select api.commit_job('f5000000-0000-0000-0000-000000000001', 'f5000000-0000-0000-0000-0000000000aa', 3)$$,
  'P0001', 'JOB_NOT_FOUND', 'an unknown job is not found');

select results_eq(
  format($$select status, amount, spent, debited, released, balance, held, available
             from api.commit_job('f5000000-0000-0000-0000-000000000001', %L, 3)$$, (select job_id from t_job)),
  $$values ('committed'::text, 6::bigint, 2::bigint, 3::bigint, 3::bigint, 7::bigint, 0::bigint, 7::bigint)$$,
  'commit 3 of 6 debits 3 and releases 3: balance 10 -> 7, held 6 -> 0');
select results_eq(
  format($$select kind, cause_type, cause_key, delta from credits.ledger
            where account_id = 'f5000000-0000-0000-0000-000000000001' and kind = 'job_debit'$$),
  format($$values ('job_debit'::text, 'job'::text, %L::text, -3::bigint)$$, (select job_id from t_job)),
  'exactly one job_debit ledger row, keyed by the job id');

select throws_ok(format($$select api.commit_job('f5000000-0000-0000-0000-000000000001', %L)$$, (select job_id from t_job)),
  'P0001', 'JOB_NOT_PENDING', 'a second commit is refused');
select throws_ok(format($$select api.cancel_job('f5000000-0000-0000-0000-000000000001', %L)$$, (select job_id from t_job)),
  'P0001', 'JOB_NOT_PENDING', 'a committed job cannot be cancelled (released twice)');
select throws_ok(format($$select api.spend_on_job('f5000000-0000-0000-0000-000000000001', %L, 1, 'gen-2')$$, (select job_id from t_job)),
  'P0001', 'JOB_NOT_PENDING', 'a committed job cannot be spent on');
select throws_ok(
  format($$insert into credits.ledger (account_id, kind, cause_type, cause_key, delta)
           values ('f5000000-0000-0000-0000-000000000001', 'job_debit', 'job', %L, -1)$$, (select job_id from t_job)),
  '23505', null, 'even the owner cannot write a second debit for the job (unique cause)');
select throws_ok(format($$update credits.jobs set status = 'pending', debited = null, settled_at = null where id = %L$$, (select job_id from t_job)),
  'P0001', 'JOB_STATE_INVALID', 'a settled job cannot be reopened');
select is((select count(*) from credits.ledger where kind = 'job_debit' and cause_key = (select job_id::text from t_job)), 1::bigint,
  'still exactly one debit for the job');
select results_eq($$select balance, held from api.balance('f5000000-0000-0000-0000-000000000001')$$,
  $$values (7::bigint, 0::bigint)$$, 'and the balance moved once');

-- default: commit the whole hold
create temp table t_all as
  select * from api.start_job('f5000000-0000-0000-0000-000000000001', 4, 60, null, null, extensions.digest('t2', 'sha256'));
select results_eq(format($$select debited, released, balance, held from api.commit_job('f5000000-0000-0000-0000-000000000001', %L)$$, (select job_id from t_all)),
  $$values (4::bigint, 0::bigint, 3::bigint, 0::bigint)$$, 'commit without an amount debits the whole hold');

-- commit 0 of an unspent job: settled, nothing debited, no ledger row
create temp table t_zero as
  select * from api.start_job('f5000000-0000-0000-0000-000000000001', 2, 60, null, null, extensions.digest('t3', 'sha256'));
select results_eq(format($$select status, debited, released, balance, held from api.commit_job('f5000000-0000-0000-0000-000000000001', %L, 0)$$, (select job_id from t_zero)),
  $$values ('committed'::text, 0::bigint, 2::bigint, 3::bigint, 0::bigint)$$, 'commit 0 releases everything');
select is((select count(*) from credits.ledger where cause_key = (select job_id::text from t_zero)), 0::bigint,
  'and writes no ledger row (delta is never 0)');
select throws_ok(format($$select api.commit_job('f5000000-0000-0000-0000-000000000001', %L, -1)$$, (select job_id from t_zero)),
  'P0001', 'VALIDATION_FAILED', 'a negative commit amount is invalid');

select is((select count(*) from ops.verify_ledger_chains() where not ok), 0::bigint, 'all chains and cached totals verify');
select is((select count(*) from credits.jobs j where j.status <> 'pending' and j.debited <> coalesce(
            (select -l.delta from credits.ledger l where l.kind = 'job_debit' and l.cause_key = j.id::text), 0)), 0::bigint,
  'every settled job''s debited equals its ledger debit');
select is((select get_job.status from api.get_job('f5000000-0000-0000-0000-000000000001', (select job_id from t_job))), 'committed',
  'get_job reports the job committed');

select * from finish();
rollback;
