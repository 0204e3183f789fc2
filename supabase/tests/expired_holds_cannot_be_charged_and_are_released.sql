-- Invariant 4: after expires_at a job can no longer be used, spent on, extended, committed or
-- cancelled, even before pg_cron runs (lazy expiry); api.expire_jobs (every minute) settles it:
-- what was spent is debited once, the rest released.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(22);

select api.ensure_account('a7000000-0000-0000-0000-000000000001', 10);
create temp table t_jobs as
  select 'spent' as what, j.* from api.start_job('a7000000-0000-0000-0000-000000000001', 3, 60, null, null, extensions.digest('t1', 'sha256')) j
  union all
  select 'unspent', j.* from api.start_job('a7000000-0000-0000-0000-000000000001', 2, 60, null, null, extensions.digest('t2', 'sha256')) j
  union all
  select 'fresh', j.* from api.start_job('a7000000-0000-0000-0000-000000000001', 1, 600, null, null, extensions.digest('t3', 'sha256')) j;
select api.spend_on_job('a7000000-0000-0000-0000-000000000001', (select job_id from t_jobs where what = 'spent'), 1, 'gen-1');

-- Time passes for two of them (now() is frozen inside a transaction, so move the jobs instead).
set local session_replication_role = replica;
update credits.jobs set created_at = now() - interval '2 minutes', expires_at = now() - interval '1 minute'
 where id in (select job_id from t_jobs where what in ('spent', 'unspent'));
set local session_replication_role = origin;

select throws_ok(format($$select api.authorize_job('a7000000-0000-0000-0000-000000000001', %L, extensions.digest('t1', 'sha256'))$$,
  (select job_id from t_jobs where what = 'spent')), 'P0001', 'JOB_EXPIRED', 'an expired job''s token is refused before the cron runs');
select throws_ok(format($$select api.spend_on_job('a7000000-0000-0000-0000-000000000001', %L, 1, 'gen-2')$$,
  (select job_id from t_jobs where what = 'spent')), 'P0001', 'JOB_EXPIRED', 'an expired job cannot be spent on');
select throws_ok(format($$select api.commit_job('a7000000-0000-0000-0000-000000000001', %L)$$,
  (select job_id from t_jobs where what = 'spent')), 'P0001', 'JOB_EXPIRED', 'an expired job cannot be committed');
select throws_ok(format($$select api.cancel_job('a7000000-0000-0000-0000-000000000001', %L)$$,
  (select job_id from t_jobs where what = 'spent')), 'P0001', 'JOB_EXPIRED', 'an expired job cannot be cancelled');
select throws_ok(format($$select api.extend_job('a7000000-0000-0000-0000-000000000001', %L, 1, 60)$$,
  (select job_id from t_jobs where what = 'spent')), 'P0001', 'JOB_EXPIRED', 'an expired job cannot be revived by extending it');
select results_eq(format($$select status, remaining from api.get_job('a7000000-0000-0000-0000-000000000001', %L)$$,
  (select job_id from t_jobs where what = 'unspent')), $$values ('expired'::text, 0::bigint)$$,
  'get_job reports an unsettled expired job as expired with nothing remaining');
select is((select held from credits.accounts where id = 'a7000000-0000-0000-0000-000000000001'), 6::bigint,
  'until settled, the expired holds are still in accounts.held');

-- the cron job
select is(api.expire_jobs(), 2, 'expire_jobs settles the two expired jobs');
select results_eq($$select status, debited from credits.jobs where id in (select job_id from t_jobs where what <> 'fresh') order by amount desc$$,
  $$values ('expired'::text, 1::bigint), ('expired'::text, 0::bigint)$$,
  'the spent job is debited what was spent (1), the unspent one nothing');
select results_eq($$select balance, held, available from api.balance('a7000000-0000-0000-0000-000000000001')$$,
  $$values (9::bigint, 1::bigint, 8::bigint)$$, 'balance 10 - 1 spent; only the fresh job is still held');
select is((select count(*) from credits.ledger where kind = 'job_debit'), 1::bigint, 'one ledger debit (none for a zero spend)');
select is(api.expire_jobs(), 0, 'a second run finds nothing to do (released at most once)');
select is((select status from credits.jobs where id = (select job_id from t_jobs where what = 'fresh')), 'pending',
  'an unexpired job is left alone');
select throws_ok(format($$select api.commit_job('a7000000-0000-0000-0000-000000000001', %L)$$,
  (select job_id from t_jobs where what = 'spent')), 'P0001', 'JOB_EXPIRED', 'a settled expired job cannot be committed either');

-- lazy release: the next start/charge on the account settles expired holds first
create temp table t_big as
  select * from api.start_job('a7000000-0000-0000-0000-000000000001', 8, 60, null, null, extensions.digest('t4', 'sha256'));
select api.spend_on_job('a7000000-0000-0000-0000-000000000001', (select job_id from t_big), 3, 'gen-3');
select api.unspend_on_job('a7000000-0000-0000-0000-000000000001', (select job_id from t_big), 'gen-3', 1);
set local session_replication_role = replica;
update credits.jobs set created_at = now() - interval '2 minutes', expires_at = now() - interval '1 minute'
 where id = (select job_id from t_big);
set local session_replication_role = origin;
select results_eq($$select status, amount, held, available from api.start_job('a7000000-0000-0000-0000-000000000001', 6, 60, null, null, extensions.digest('t5', 'sha256'))$$,
  $$values ('pending'::text, 6::bigint, 7::bigint, 0::bigint)$$,
  'a start that needs the expired hold''s credits succeeds: the expired job was settled first');
select results_eq($$select status, debited from credits.jobs where id = (select job_id from t_big)$$,
  $$values ('expired'::text, 2::bigint)$$, 'the lazily expired job was debited its net spend (3 - 1 given back)');

-- unspend is still allowed on an expired-but-unsettled job: it only lowers the debit
select api.grant('a7000000-0000-0000-0000-000000000001', 1, 'support', 'support:1');
create temp table t_late as
  select * from api.start_job('a7000000-0000-0000-0000-000000000001', 1, 60, null, null, extensions.digest('t6', 'sha256'));
select throws_ok($$select api.start_job('a7000000-0000-0000-0000-000000000001', 1, 60, null, null, extensions.digest('t7', 'sha256'))$$,
  'P0001', 'INSUFFICIENT_CREDITS', 'everything is held now');
select api.spend_on_job('a7000000-0000-0000-0000-000000000001', (select job_id from t_late), 1, 'gen-4');
set local session_replication_role = replica;
update credits.jobs set created_at = now() - interval '2 minutes', expires_at = now() - interval '1 minute'
 where id = (select job_id from t_late);
set local session_replication_role = origin;
select is((select applied from api.unspend_on_job('a7000000-0000-0000-0000-000000000001', (select job_id from t_late), 'gen-4')), true,
  'a failed call''s spend can be given back after expiry, before settlement');
select is(api.expire_jobs(), 1, 'the cron settles it');
select is((select debited from credits.jobs where id = (select job_id from t_late)), 0::bigint, 'with no debit');

select is((select schedule from cron.job where jobname = 'tollgate-expire-holds'), '* * * * *',
  'pg_cron runs api.expire_jobs every minute');
select is((select count(*) from ops.verify_ledger_chains() where not ok), 0::bigint, 'all chains and cached totals verify');

select * from finish();
rollback;
