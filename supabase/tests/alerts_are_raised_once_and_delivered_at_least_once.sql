-- The alert outbox: rules raise an alert once per condition (dedup key); the dispatcher's
-- claim leases due alerts (SKIP LOCKED, attempts counted), settle marks them delivered (never
-- sent again) or schedules a retry with exponential backoff, and gives up after
-- alerts.max_attempts. The rules: low success rate, 5xx share (each with enough calls), and
-- failed pg_cron runs.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(25);

-- raise / dedup -------------------------------------------------------------------------------
select isnt(ops.raise_alert('test.rule', 'error', 'warning', 'T', 'M', '{"a": 1}', 'test:1'), null, 'an alert is queued');
select is(ops.raise_alert('test.rule', 'error', 'warning', 'T', 'M', '{}', 'test:1'), null, 'the same dedup key queues nothing');
select is((select status || '/' || attempts from ops.alerts where dedup_key = 'test:1'), 'pending/0', 'it waits, unsent');
select throws_ok($$select ops.raise_alert('test.rule', 'pager', 'warning', 'T', 'M', '{}', 'test:bad')$$, '23514', null,
  'an unknown channel is refused');

-- claim / settle as the function role --------------------------------------------------------
set local role tollgate_api;
create temp table t_claim as select * from api.alerts_claim(10, 60);
reset role;
select is((select count(*) from t_claim where id = (select id from ops.alerts where dedup_key = 'test:1')), 1::bigint,
  'the dispatcher claims the due alert');
select is((select attempts from t_claim where id = (select id from ops.alerts where dedup_key = 'test:1')), 1, 'the attempt is counted');
select ok((select next_attempt_at > now() from ops.alerts where dedup_key = 'test:1'), 'and it is leased');
set local role tollgate_api;
select is((select count(*) from api.alerts_claim(10, 60) where title = 'T'), 0::bigint, 'a leased alert is not claimed again');
select is(api.alerts_settle((select id from t_claim where title = 'T'), false, 'HTTP 500'), 'pending', 'a failed delivery stays pending');
reset role;
select results_eq($$select last_error, next_attempt_at - now() between interval '29 seconds' and interval '31 seconds'
                     from ops.alerts where dedup_key = 'test:1'$$,
  $$values ('HTTP 500'::text, true)$$, 'and is retried after 30 s (first backoff) with the error kept');
update ops.alerts set next_attempt_at = now() - interval '1 second' where dedup_key = 'test:1';
set local role tollgate_api;
select is((select attempts from api.alerts_claim(10, 60) where title = 'T'), 2, 'once due it is claimed again (attempt 2)');
select is(api.alerts_settle((select id from t_claim where title = 'T'), false, 'timeout'), 'pending', 'fails again');
reset role;
select ok((select next_attempt_at - now() between interval '59 seconds' and interval '61 seconds' from ops.alerts where dedup_key = 'test:1'),
  'and the backoff doubles (60 s)');
update ops.alerts set next_attempt_at = now() - interval '1 second' where dedup_key = 'test:1';
set local role tollgate_api;
select is((select count(*) from api.alerts_claim(10, 60) where title = 'T'), 1::bigint, 'claimed a third time');
select is(api.alerts_settle((select id from t_claim where title = 'T'), true), 'delivered', 'delivered');
select is(api.alerts_settle((select id from t_claim where title = 'T'), false, 'late'), 'delivered',
  'a late failure report does not reopen a delivered alert');
reset role;
update ops.alerts set next_attempt_at = now() - interval '1 day' where dedup_key = 'test:1';
set local role tollgate_api;
select is((select count(*) from api.alerts_claim(10, 60) where title = 'T'), 0::bigint, 'a delivered alert is never claimed again');
reset role;

-- giving up
update ops.settings set value = '2' where key = 'alerts.max_attempts';
select ops.raise_alert('test.rule', 'security', 'info', 'D', 'M', '{}', 'test:dead');
update ops.alerts set attempts = 1 where dedup_key = 'test:dead';
set local role tollgate_api;
select is(api.alerts_settle((select id from api.alerts_claim(10, 60) where title = 'D'), false, 'HTTP 404'), 'dead',
  'after alerts.max_attempts failures the alert is dead');
reset role;

-- rules ---------------------------------------------------------------------------------------
create temp table t_now as select '2031-04-01 10:30:00+00'::timestamptz as now;
create function pg_temp.gen(p_at timestamptz, p_status text, p_upstream integer)
returns void language sql as $$
  insert into credits.ai_generations (account_id, kind, model, status, credits_reserved, credits_charged,
                                      upstream_status, latency_ms, created_at, finished_at, error_code)
  values ('e7400000-0000-0000-0000-000000000001', 'chat', 'gpt-test', p_status, 2,
          case when p_status = 'failed' then 0 else 2 end, p_upstream, 100, p_at, p_at,
          case when p_status = 'failed' then 'BAD_GATEWAY' end)
$$;
-- 19 calls, 5 failed: too few calls for the success-rate rule
select pg_temp.gen((select now from t_now) - make_interval(mins => m), case when m <= 5 then 'failed' else 'succeeded' end,
                   case when m <= 5 then 502 else 200 end)
  from generate_series(1, 19) m;
select is(ops.evaluate_alerts((select now from t_now)), 0, 'with fewer calls than alerts.success_rate_min_calls nothing fires');
-- the 20th call: 15/20 = 75 % < 90 %
select pg_temp.gen((select now from t_now) - interval '30 minutes', 'succeeded', 200);
select is(ops.evaluate_alerts((select now from t_now)), 1, 'a success rate under 90 % with enough calls raises an alert');
select is((select (details ->> 'successRate')::numeric from ops.alerts where rule = 'generations.low_success_rate'), 0.75,
  'naming the rate');
-- 5xx share: 5 of 120 calls (> 1 %) once there are enough calls
select pg_temp.gen((select now from t_now) - make_interval(secs => s), 'succeeded', 200) from generate_series(1, 100) s;
select is(ops.evaluate_alerts((select now from t_now)), 1, 'a 5xx share above 1 % over >= 100 calls raises an alert');
select is((select (details ->> 'serverErrors')::int from ops.alerts where rule = 'generations.server_errors'), 5, 'counting the 5xx calls');

-- failed cron runs: one alert per job and hour
insert into cron.job_run_details (jobid, runid, status, return_message, start_time, end_time)
select j.jobid, -100 - n, 'failed', 'ERROR: boom ' || n, (select now from t_now) - make_interval(mins => n), (select now from t_now)
  from cron.job j, generate_series(1, 3) n where j.jobname = 'tollgate-retention';
select is(ops.evaluate_alerts((select now from t_now)), 1, 'failed pg_cron runs raise one alert for the job');
select results_eq($$select title, (details ->> 'failures')::int from ops.alerts where rule = 'cron.failed_run'$$,
  $$values ('pg_cron job tollgate-retention failed'::text, 3)$$, 'naming the job and how often it failed');

select * from finish();
rollback;
