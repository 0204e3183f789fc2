-- The AI proxy spends from a pending job's hold: only with the job's token (and device, when
-- bound), never above the remaining hold, once per reference; unspend gives a spend back once.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(22);

create function pg_temp.error_detail(p_sql text) returns text language plpgsql as $$
declare v_detail text;
begin
  execute p_sql;
  return null;
exception when others then
  get stacked diagnostics v_detail = pg_exception_detail;
  return v_detail;
end $$;

select api.ensure_account('a8000000-0000-0000-0000-000000000001', 10);
select api.ensure_account('a8000000-0000-0000-0000-000000000002', 10);
create temp table t_job as
  select * from api.start_job('a8000000-0000-0000-0000-000000000001', 5, 60, 'device-1', null, extensions.digest('token-1', 'sha256'));

-- authorization
select results_eq(format($$select amount, spent, remaining from api.authorize_job('a8000000-0000-0000-0000-000000000001', %L, extensions.digest('token-1', 'sha256'), 'device-1')$$, (select job_id from t_job)),
  $$values (5::bigint, 0::bigint, 5::bigint)$$, 'the right token from the bound device is authorized');
select throws_ok(format($$select api.authorize_job('a8000000-0000-0000-0000-000000000001', %L, extensions.digest('token-2', 'sha256'), 'device-1')$$, (select job_id from t_job)),
  'P0001', 'UNAUTHORIZED', 'a wrong token is refused');
select is(pg_temp.error_detail(format($$select api.authorize_job('a8000000-0000-0000-0000-000000000001', %L, extensions.digest('token-2', 'sha256'), 'device-1')$$, (select job_id from t_job))),
  'JOB_TOKEN_INVALID', 'with detail JOB_TOKEN_INVALID');
select is(pg_temp.error_detail(format($$select api.authorize_job('a8000000-0000-0000-0000-000000000001', %L, null, 'device-1')$$, (select job_id from t_job))),
  'JOB_TOKEN_INVALID', 'a missing token is refused the same way');
select is(pg_temp.error_detail(format($$select api.authorize_job('a8000000-0000-0000-0000-000000000001', %L, extensions.digest('token-1', 'sha256'), 'device-2')$$, (select job_id from t_job))),
  'JOB_DEVICE_MISMATCH', 'the right token from another device is refused (JOB_DEVICE_MISMATCH)');
select is(pg_temp.error_detail(format($$select api.authorize_job('a8000000-0000-0000-0000-000000000001', %L, extensions.digest('token-1', 'sha256'), null)$$, (select job_id from t_job))),
  'JOB_DEVICE_MISMATCH', 'and so is the right token without a device');
select throws_ok(format($$select api.authorize_job('a8000000-0000-0000-0000-000000000002', %L, extensions.digest('token-1', 'sha256'), 'device-1')$$, (select job_id from t_job)),
  'P0001', 'JOB_NOT_FOUND', 'another account holding the token still cannot see the job');

-- spending
select results_eq(format($$select spent, remaining, applied from api.spend_on_job('a8000000-0000-0000-0000-000000000001', %L, 3, 'gen-1', extensions.digest('token-1', 'sha256'), 'device-1')$$, (select job_id from t_job)),
  $$values (3::bigint, 2::bigint, true)$$, 'spending 3 of 5 leaves 2');
select results_eq(format($$select spent, remaining, applied from api.spend_on_job('a8000000-0000-0000-0000-000000000001', %L, 3, 'gen-1')$$, (select job_id from t_job)),
  $$values (3::bigint, 2::bigint, false)$$, 'repeating the same spend reference changes nothing');
select throws_ok(format($$select api.spend_on_job('a8000000-0000-0000-0000-000000000001', %L, 2, 'gen-1')$$, (select job_id from t_job)),
  'P0001', 'IDEMPOTENCY_KEY_REUSED', 'the same reference with another amount is refused');
select throws_ok(format($$select api.spend_on_job('a8000000-0000-0000-0000-000000000001', %L, 3, 'gen-2')$$, (select job_id from t_job)),
  'P0001', 'INSUFFICIENT_CREDITS', 'spending above the remaining hold is refused');
select throws_ok(format($$select api.spend_on_job('a8000000-0000-0000-0000-000000000001', %L, 1, 'gen-2', extensions.digest('token-2', 'sha256'), 'device-1')$$, (select job_id from t_job)),
  'P0001', 'UNAUTHORIZED', 'a spend presenting a wrong token is refused');
select throws_ok(format($$select api.spend_on_job('a8000000-0000-0000-0000-000000000002', %L, 1, 'gen-2')$$, (select job_id from t_job)),
  'P0001', 'JOB_NOT_FOUND', 'another account cannot spend on the job');
select throws_ok(format($$select api.spend_on_job('a8000000-0000-0000-0000-000000000001', %L, 0, 'gen-2')$$, (select job_id from t_job)),
  'P0001', 'VALIDATION_FAILED', 'a spend of 0 is invalid');
select results_eq($$select balance, held from api.balance('a8000000-0000-0000-0000-000000000001')$$,
  $$values (10::bigint, 5::bigint)$$, 'spends move neither balance nor held: the credits are already held');

-- unspend
select results_eq(format($$select spent, unspent, applied from api.unspend_on_job('a8000000-0000-0000-0000-000000000001', %L, 'gen-1', 1)$$, (select job_id from t_job)),
  $$values (2::bigint, 1::bigint, true)$$, 'giving back 1 of a 3-credit spend leaves 2 spent');
select results_eq(format($$select spent, unspent, applied from api.unspend_on_job('a8000000-0000-0000-0000-000000000001', %L, 'gen-1')$$, (select job_id from t_job)),
  $$values (2::bigint, 1::bigint, false)$$, 'a spend is given back at most once');
select throws_ok(format($$select api.unspend_on_job('a8000000-0000-0000-0000-000000000001', %L, 'gen-9')$$, (select job_id from t_job)),
  'P0001', 'NOT_FOUND', 'an unknown spend reference is not found');
select api.spend_on_job('a8000000-0000-0000-0000-000000000001', (select job_id from t_job), 2, 'gen-3');
select throws_ok(format($$select api.unspend_on_job('a8000000-0000-0000-0000-000000000001', %L, 'gen-3', 3)$$, (select job_id from t_job)),
  'P0001', 'VALIDATION_FAILED', 'more than the spend cannot be given back');
select throws_ok(format($$update credits.jobs set spent = 6 where id = %L$$, (select job_id from t_job)),
  '23514', null, 'even the owner cannot make spent exceed the hold');

select results_eq(format($$select debited, balance, held from api.commit_job('a8000000-0000-0000-0000-000000000001', %L, 4)$$, (select job_id from t_job)),
  $$values (4::bigint, 6::bigint, 0::bigint)$$, 'committing exactly what was spent (2 + 2) debits 4');
select is((select count(*) from ops.verify_ledger_chains() where not ok), 0::bigint, 'all chains and cached totals verify');

select * from finish();
rollback;
