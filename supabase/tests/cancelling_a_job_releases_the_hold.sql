-- Cancel releases the hold exactly once; usage already spent on the job is debited (never free).
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(13);

select api.ensure_account('a6000000-0000-0000-0000-000000000001', 10);
select api.ensure_account('a6000000-0000-0000-0000-000000000002', 10);
create temp table t_job as
  select * from api.start_job('a6000000-0000-0000-0000-000000000001', 5, 60, null, null, extensions.digest('t1', 'sha256'));

select throws_ok(format($$select api.cancel_job('a6000000-0000-0000-0000-000000000002', %L)$$, (select job_id from t_job)),
  'P0001', 'JOB_NOT_FOUND', 'another account cannot cancel the job');
select throws_ok(format($$delete from credits.jobs where id = %L$$, (select job_id from t_job)),
  'P0001', 'JOB_STATE_INVALID', 'a pending job cannot be deleted behind the ledger''s back');
select results_eq(format($$select status, debited, released, balance, held, available
                             from api.cancel_job('a6000000-0000-0000-0000-000000000001', %L)$$, (select job_id from t_job)),
  $$values ('cancelled'::text, 0::bigint, 5::bigint, 10::bigint, 0::bigint, 10::bigint)$$,
  'cancelling an unspent job releases all 5 and debits nothing');
select is((select count(*) from credits.ledger where cause_key = (select job_id::text from t_job)), 0::bigint,
  'no ledger row for a release');
select throws_ok(format($$select api.cancel_job('a6000000-0000-0000-0000-000000000001', %L)$$, (select job_id from t_job)),
  'P0001', 'JOB_NOT_PENDING', 'a second cancel is refused (released at most once)');
select throws_ok(format($$select api.commit_job('a6000000-0000-0000-0000-000000000001', %L)$$, (select job_id from t_job)),
  'P0001', 'JOB_NOT_PENDING', 'a cancelled job cannot be committed');
select throws_ok(format($$select api.extend_job('a6000000-0000-0000-0000-000000000001', %L, 1, 0)$$, (select job_id from t_job)),
  'P0001', 'JOB_NOT_PENDING', 'a cancelled job cannot be extended');
select throws_ok(format($$select api.authorize_job('a6000000-0000-0000-0000-000000000001', %L, extensions.digest('t1', 'sha256'))$$, (select job_id from t_job)),
  'P0001', 'JOB_NOT_PENDING', 'a cancelled job''s token is no longer valid');
select results_eq($$select balance, held, available from api.balance('a6000000-0000-0000-0000-000000000001')$$,
  $$values (10::bigint, 0::bigint, 10::bigint)$$, 'the hold was released once: held 0, balance untouched');

-- cancel after a spend: the spent part is debited once, the rest released
create temp table t_spent as
  select * from api.start_job('a6000000-0000-0000-0000-000000000001', 6, 60, null, null, extensions.digest('t2', 'sha256'));
select api.spend_on_job('a6000000-0000-0000-0000-000000000001', (select job_id from t_spent), 2, 'gen-1');
select results_eq(format($$select status, spent, debited, released, balance, held
                             from api.cancel_job('a6000000-0000-0000-0000-000000000001', %L)$$, (select job_id from t_spent)),
  $$values ('cancelled'::text, 2::bigint, 2::bigint, 4::bigint, 8::bigint, 0::bigint)$$,
  'cancelling after spending 2 of 6 debits 2 and releases 4');
select results_eq(format($$select kind, delta from credits.ledger where cause_key = %L$$, (select job_id::text from t_spent)),
  $$values ('job_debit'::text, -2::bigint)$$, 'with one job_debit ledger row');
select throws_ok(format($$select api.unspend_on_job('a6000000-0000-0000-0000-000000000001', %L, 'gen-1')$$, (select job_id from t_spent)),
  'P0001', 'JOB_NOT_PENDING', 'a spend cannot be given back after the job is settled');
select is((select count(*) from ops.verify_ledger_chains() where not ok), 0::bigint, 'all chains and cached totals verify');

select * from finish();
rollback;
