-- Every Tollgate pg_cron job is defined once (20261124000590_cron_schedules.sql), by name, with
-- its schedule and command; the alert dispatch job exists exactly where pg_net does.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(5);

select results_eq(
  $$select jobname::text collate "default", schedule::text collate "default", command::text collate "default" from cron.job
     where jobname like 'tollgate-%' and jobname <> 'tollgate-dispatch-alerts' order by jobname$$,
  $$values
    ('tollgate-ai-settle-stale', '* * * * *', 'select api.ai_settle_stale(600)'),
    ('tollgate-detect-anomalies', '5 * * * *', 'select ops.detect_anomalies()'),
    ('tollgate-evaluate-alerts', '*/5 * * * *', 'select ops.evaluate_alerts()'),
    ('tollgate-expire-holds', '* * * * *', 'select api.expire_jobs()'),
    ('tollgate-purge-idempotency-keys', '17 * * * *', 'select api.purge_idempotency_keys()'),
    ('tollgate-purge-promo-guard', '17 * * * *', 'select ops.promo_guard_purge()'),
    ('tollgate-purge-rate-limits', '7 * * * *', 'select ops.rate_limit_purge()'),
    ('tollgate-reconcile', '*/15 * * * *', 'select ops.reconcile(''incremental'')'),
    ('tollgate-reconcile-full', '40 3 * * *', 'select ops.reconcile(''full'')'),
    ('tollgate-retention', '20 4 * * *', 'select ops.retention()'),
    ('tollgate-snapshot', '50 2 * * *', 'call ops.take_snapshot()')$$,
  'every job exists with its schedule and command');
select is((select count(*) from cron.job where jobname like 'tollgate-%' and not active), 0::bigint, 'all of them are active');
select is((select count(*) from cron.job where jobname = 'tollgate-dispatch-alerts'),
  (select count(*) from pg_extension where extname = 'pg_net'),
  'the alert dispatch job exists exactly where pg_net is installed');
select is((select count(*) from (select jobname from cron.job where jobname like 'tollgate-%' group by jobname having count(*) > 1) d),
  0::bigint, 'no job name is scheduled twice');

-- the commands run: every scheduled function exists and is callable by the cron owner
select lives_ok($$select api.expire_jobs(); select ops.rate_limit_purge(); select api.purge_idempotency_keys();
                  select ops.reconcile('incremental'); select ops.detect_anomalies(); select ops.evaluate_alerts();
                  select ops.retention()$$,
  'every scheduled command runs');

select * from finish();
rollback;
