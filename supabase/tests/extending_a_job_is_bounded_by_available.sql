-- extend adds to a pending job's hold and/or expiry atomically, never beyond available.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(12);

select api.ensure_account('a9000000-0000-0000-0000-000000000001', 10);
select api.ensure_account('a9000000-0000-0000-0000-000000000002', 10);
create temp table t_job as
  select * from api.start_job('a9000000-0000-0000-0000-000000000001', 4, 60, null, null, extensions.digest('t1', 'sha256'));

select results_eq(format($$select amount, expires_at, held, available from api.extend_job('a9000000-0000-0000-0000-000000000001', %L, 6, 0)$$, (select job_id from t_job)),
  $$values (10::bigint, now() + interval '60 seconds', 10::bigint, 0::bigint)$$,
  'adding 6 to the hold uses all of available');
select throws_ok(format($$select api.extend_job('a9000000-0000-0000-0000-000000000001', %L, 1, 60)$$, (select job_id from t_job)),
  'P0001', 'INSUFFICIENT_CREDITS', 'adding beyond available is refused');
select results_eq(format($$select amount, expires_at from credits.jobs where id = %L$$, (select job_id from t_job)),
  $$values (10::bigint, now() + interval '60 seconds')$$, 'and nothing changed, not even the expiry asked for with it');
select results_eq(format($$select amount, expires_at, available from api.extend_job('a9000000-0000-0000-0000-000000000001', %L, 0, 120)$$, (select job_id from t_job)),
  $$values (10::bigint, now() + interval '180 seconds', 0::bigint)$$, 'extending only the expiry needs no credits');
select throws_ok(format($$select api.extend_job('a9000000-0000-0000-0000-000000000001', %L, 0, 0)$$, (select job_id from t_job)),
  'P0001', 'VALIDATION_FAILED', 'an extension of nothing is invalid');
select throws_ok(format($$select api.extend_job('a9000000-0000-0000-0000-000000000001', %L, -1, 0)$$, (select job_id from t_job)),
  'P0001', 'VALIDATION_FAILED', 'a negative extension is invalid');
select throws_ok(format($$select api.extend_job('a9000000-0000-0000-0000-000000000001', %L, 0, 86400)$$, (select job_id from t_job)),
  'P0001', 'VALIDATION_FAILED', 'a job cannot live longer than 24 hours');
select throws_ok(format($$select api.extend_job('a9000000-0000-0000-0000-000000000002', %L, 1, 0)$$, (select job_id from t_job)),
  'P0001', 'JOB_NOT_FOUND', 'another account cannot extend the job');
select throws_ok(format($$update credits.jobs set amount = 1 where id = %L$$, (select job_id from t_job)),
  'P0001', 'JOB_STATE_INVALID', 'a hold never shrinks while pending');
select results_eq(format($$select debited, released, balance, held from api.commit_job('a9000000-0000-0000-0000-000000000001', %L, 7)$$, (select job_id from t_job)),
  $$values (7::bigint, 3::bigint, 3::bigint, 0::bigint)$$, 'a commit can use the extended hold (7 > the first estimate of 4)');
select throws_ok(format($$select api.extend_job('a9000000-0000-0000-0000-000000000001', %L, 0, 60)$$, (select job_id from t_job)),
  'P0001', 'JOB_NOT_PENDING', 'a settled job cannot be extended');
select is((select count(*) from ops.verify_ledger_chains() where not ok), 0::bigint, 'all chains and cached totals verify');

select * from finish();
rollback;
