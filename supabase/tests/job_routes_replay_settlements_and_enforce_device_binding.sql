-- api.jobs_commit / jobs_cancel / jobs_extend (POST /jobs/:id/...) and api.credits_balance /
-- credits_ledger: one call each, device binding, Idempotency-Key replay, another account's job
-- invisible.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(16);

select api.ensure_account('c1000000-0000-4000-8000-000000000001', 20);
create temporary table t_jobs as
select 'bound'::text as name, s.job_id from api.start_job('c1000000-0000-4000-8000-000000000001', 5, 900, 'phone',
  null, '\xabababababababababababababababababababababababababababababababab') s
union all
select 'free', s.job_id from api.start_job('c1000000-0000-4000-8000-000000000001', 5, 900, null,
  null, '\xabababababababababababababababababababababababababababababababab') s;

-- device binding
select throws_ok(
  format($$select api.jobs_commit('c1000000-0000-4000-8000-000000000001', %L, 1, 'tablet')$$,
         (select job_id from t_jobs where name = 'bound')),
  'P0001', 'FORBIDDEN', 'a device-bound job cannot be committed from another device');
select throws_ok(
  format($$select api.jobs_cancel('c1000000-0000-4000-8000-000000000001', %L, null)$$,
         (select job_id from t_jobs where name = 'bound')),
  'P0001', 'FORBIDDEN', 'nor cancelled without a device');
select throws_ok(
  format($$select api.jobs_extend('c1000000-0000-4000-8000-000000000001', %L, 1, 0, 'tablet')$$,
         (select job_id from t_jobs where name = 'bound')),
  'P0001', 'FORBIDDEN', 'nor extended from another device');

-- another account's job does not exist
select throws_ok(
  format($$select api.jobs_commit('c1000000-0000-4000-8000-000000000002', %L, 1, null)$$,
         (select job_id from t_jobs where name = 'free')),
  'P0001', 'JOB_NOT_FOUND', 'another account''s job is JOB_NOT_FOUND');

-- extend with a key, replayed
select results_eq(
  format($$select replayed, (response->>'amount')::int, (response->>'available')::int
             from api.jobs_extend('c1000000-0000-4000-8000-000000000001', %L, 2, 60, 'phone', 'ext-1', 'h-ext')$$,
         (select job_id from t_jobs where name = 'bound')),
  $$values (false, 7, 8)$$, 'extend grows the hold from the bound device');
select results_eq(
  format($$select replayed, (response->>'amount')::int
             from api.jobs_extend('c1000000-0000-4000-8000-000000000001', %L, 2, 60, 'phone', 'ext-1', 'h-ext')$$,
         (select job_id from t_jobs where name = 'bound')),
  $$values (true, 7)$$, 'a replayed extend does not extend twice');

-- commit with a key, replayed, then a second (unkeyed) commit is refused
select results_eq(
  format($$select replayed, response_status, response->>'status', (response->>'debited')::int, (response->>'released')::int
             from api.jobs_commit('c1000000-0000-4000-8000-000000000001', %L, 3, 'phone', 'commit-1', 'h-commit')$$,
         (select job_id from t_jobs where name = 'bound')),
  $$values (false, 200, 'committed', 3, 4)$$, 'commit debits the actual amount and releases the rest');
select results_eq(
  format($$select replayed, (response->>'debited')::int
             from api.jobs_commit('c1000000-0000-4000-8000-000000000001', %L, 3, 'phone', 'commit-1', 'h-commit')$$,
         (select job_id from t_jobs where name = 'bound')),
  $$values (true, 3)$$, 'a retried commit with its key is replayed, not refused');
select throws_ok(
  format($$select api.jobs_commit('c1000000-0000-4000-8000-000000000001', %L, 3, 'phone')$$,
         (select job_id from t_jobs where name = 'bound')),
  'P0001', 'JOB_NOT_PENDING', 'a second commit without the key is refused');
select is((select count(*)::int from credits.ledger where kind = 'job_debit'
            and cause_key = (select job_id::text from t_jobs where name = 'bound')), 1, 'debited once');

-- cancel; an expired job answers JOB_EXPIRED
select results_eq(
  format($$select (response->>'status'), (response->>'released')::int
             from api.jobs_cancel('c1000000-0000-4000-8000-000000000001', %L, null)$$,
         (select job_id from t_jobs where name = 'free')),
  $$values ('cancelled', 5)$$, 'cancel releases the whole hold');
select api.ensure_account('c1000000-0000-4000-8000-000000000003', 10);
create temporary table t_old as
select s.job_id from api.start_job('c1000000-0000-4000-8000-000000000003', 4, 900, null,
  null, '\xabababababababababababababababababababababababababababababababab') s;
-- Move the job into the past (created_at is immutable for every role: bypass the guard here only).
set local session_replication_role = replica;
update credits.jobs set created_at = now() - interval '1 hour', expires_at = now() - interval '1 minute'
 where id = (select job_id from t_old);
set local session_replication_role = origin;
select throws_ok(
  format($$select api.jobs_commit('c1000000-0000-4000-8000-000000000003', %L, null, null)$$, (select job_id from t_old)),
  'P0001', 'JOB_EXPIRED', 'an expired job cannot be committed');

-- credits_balance / credits_ledger create the account once
select results_eq(
  $$select balance::int, held::int, available::int from api.credits_balance('c1000000-0000-4000-8000-000000000004', 3)$$,
  $$values (3, 0, 3)$$, 'the first balance call creates the account with the initial grant');
select results_eq(
  $$select balance::int from api.credits_balance('c1000000-0000-4000-8000-000000000004', 3)$$,
  $$values (3)$$, 'a second call grants nothing');
select results_eq(
  $$select kind, delta::int from api.credits_ledger('c1000000-0000-4000-8000-000000000005', 7, 10)$$,
  $$values ('initial_grant'::text, 7)$$, 'the first ledger call creates the account too');
select throws_ok(
  $$select * from api.credits_ledger('c1000000-0000-4000-8000-000000000005', 7, 0)$$,
  'P0001', 'VALIDATION_FAILED', 'a ledger page needs a positive limit');

select * from finish();
rollback;
