-- Each anomaly rule fires on a synthetic pattern of its kind and stays quiet on normal
-- traffic. Windows end at a fixed instant far ahead (p_now), so nothing else in the database
-- falls into them. New findings become ops.anomalies rows with one alert each; running the
-- detector again in the same bucket adds nothing.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(19);

create temp table t_now as select '2031-03-10 12:30:00+00'::timestamptz as now;

-- synthetic generation records (finished calls; failed ones keep nothing)
create function pg_temp.gen(p_account text, p_at timestamptz, p_charged bigint, p_status text default 'succeeded',
                            p_reserved bigint default null)
returns void language sql as $$
  insert into credits.ai_generations (account_id, kind, model, status, credits_reserved, credits_charged,
                                      upstream_status, latency_ms, created_at, finished_at)
  values (('e7300000-0000-0000-0000-' || p_account)::uuid, 'chat', 'gpt-test', p_status,
          coalesce(p_reserved, p_charged), case when p_status = 'failed' then 0 else p_charged end,
          case when p_status = 'failed' then 502 else 200 end, 120, p_at, p_at + interval '2 seconds')
$$;
-- synthetic jobs, written as a superuser behind the triggers (no money moves in this test)
create function pg_temp.job(p_account text, p_device text, p_at timestamptz, p_status text default 'committed')
returns void language sql as $$
  select set_config('session_replication_role', 'replica', true);
  insert into credits.jobs (account_id, amount, initial_amount, spent, debited, status, ttl_seconds, expires_at,
                            token_hash, device_id, created_at, settled_at)
  values (('e7300000-0000-0000-0000-' || p_account)::uuid, 10, 10, 0, 0, p_status, 600, p_at + interval '10 minutes',
          extensions.digest(p_account || p_at::text || coalesce(p_device, ''), 'sha256'), p_device, p_at, p_at + interval '10 minutes');
  select set_config('session_replication_role', 'origin', true);
$$;
create function pg_temp.audit(p_action text, p_at timestamptz, p_ip text, p_device text default null, p_account text default null)
returns void language sql as $$
  insert into ops.audit_log (at, category, action, ip_hash, device_id, account_id)
  values (p_at, 'security', p_action, p_ip, p_device, ('e7300000-0000-0000-0000-' || p_account)::uuid)
$$;

-- ---------------------------------------------------------------------------------------------
-- Normal traffic
-- ---------------------------------------------------------------------------------------------
-- steady spenders: 10/day and 200/day for 10 days, then 2x and 1.5x that in the last 24 h
select pg_temp.gen('000000000001', (select now from t_now) - make_interval(days => d, hours => 3), 10)
  from generate_series(1, 10) d;
select pg_temp.gen('000000000001', (select now from t_now) - interval '3 hours', 20);
select pg_temp.gen('000000000002', (select now from t_now) - make_interval(days => d, hours => 3), 200)
  from generate_series(1, 10) d;
select pg_temp.gen('000000000002', (select now from t_now) - interval '3 hours', 300);
-- a new account spending a lot on its first day has no history to compare with
select pg_temp.gen('000000000003', (select now from t_now) - interval '2 hours', 500);
-- a few promo and auth failures
select pg_temp.audit('promo.failed', (select now from t_now) - make_interval(mins => m), 'ip-normal', 'dev-normal', '000000000001')
  from generate_series(1, 3) m;
select pg_temp.audit('auth.failed', (select now from t_now) - make_interval(mins => m), 'ip-normal')
  from generate_series(1, 5) m;
-- a family sharing a tablet; an account on a phone and a laptop
select pg_temp.job('000000000001', 'dev-family', (select now from t_now) - interval '1 day');
select pg_temp.job('000000000002', 'dev-family', (select now from t_now) - interval '2 days');
select pg_temp.job('000000000001', 'dev-laptop', (select now from t_now) - interval '1 day');
-- 20 calls of which 2 failed (10 %), spread over the week; the last hour looks the same
select pg_temp.gen('000000000004', (select now from t_now) - make_interval(hours => h * 8), 5,
                   case when h % 10 = 0 then 'failed' else 'succeeded' end)
  from generate_series(1, 20) h;
select pg_temp.gen('000000000004', (select now from t_now) - make_interval(mins => m), 5,
                   case when m = 1 then 'failed' else 'succeeded' end)
  from generate_series(1, 10) m;
-- two holds that expired unused
select pg_temp.job('000000000005', null, (select now from t_now) - make_interval(hours => h), 'expired')
  from generate_series(2, 3) h;

select is_empty($$select * from ops.anomaly_candidates((select now from t_now))$$,
  'normal traffic raises no anomaly');

-- ---------------------------------------------------------------------------------------------
-- One synthetic pattern per rule
-- ---------------------------------------------------------------------------------------------
-- spend_spike: 10/day for 10 days, then 500 in the last 24 h
select pg_temp.gen('000000000010', (select now from t_now) - make_interval(days => d, hours => 5), 10)
  from generate_series(1, 10) d;
select pg_temp.gen('000000000010', (select now from t_now) - make_interval(hours => h), 100)
  from generate_series(1, 5) h;
-- promo_failure_burst: 12 failures from one IP hash in the last hour (different accounts/devices)
select pg_temp.audit('promo.failed', (select now from t_now) - make_interval(mins => m * 4), 'ip-promo',
                     'dev-promo-' || m, lpad((100 + m)::text, 12, '0'))
  from generate_series(1, 12) m;
-- accounts_per_device: 6 accounts on one device this week
select pg_temp.job(lpad((200 + a)::text, 12, '0'), 'dev-farm', (select now from t_now) - make_interval(days => a))
  from generate_series(1, 6) a;
-- devices_per_account: one account on 5 devices this week (jobs and audit events)
select pg_temp.job('000000000020', 'dev-hop-' || d, (select now from t_now) - make_interval(days => d))
  from generate_series(1, 3) d;
select pg_temp.audit('promo.redeemed', (select now from t_now) - make_interval(days => d), 'ip-x', 'dev-hop-' || d, '000000000020')
  from generate_series(4, 5) d;
-- auth_failure_burst: 35 401s from one IP hash in the last hour
select pg_temp.audit('auth.failed', (select now from t_now) - make_interval(secs => s * 60), 'ip-brute')
  from generate_series(1, 35) s;
-- refund_rate_spike (account): 12 calls 5 hours ago, 8 refunded
select pg_temp.gen('000000000030', (select now from t_now) - interval '5 hours' + make_interval(secs => c), 4,
                   case when c <= 8 then 'failed' else 'succeeded' end)
  from generate_series(1, 12) c;
-- expired_unused_holds: 6 holds that expired unused today
select pg_temp.job('000000000040', null, (select now from t_now) - make_interval(hours => h), 'expired')
  from generate_series(2, 7) h;

create temp table t_found as select * from ops.anomaly_candidates((select now from t_now));

select results_eq($$select observed, threshold from t_found where rule = 'spend_spike'$$,
  $$values (500::numeric, 100::numeric)$$, 'spend_spike fires for 500 against a median of 10/day');
select is((select subject from t_found where rule = 'spend_spike'), 'e7300000-0000-0000-0000-000000000010',
  'only for that account (not the steady spenders, not the new account)');
select results_eq($$select subject_type, subject, observed from t_found where rule = 'promo_failure_burst'$$,
  $$values ('ip_hash'::text, 'ip-promo'::text, 12::numeric)$$, 'promo_failure_burst fires for the IP hash with 12 failures');
select results_eq($$select subject, observed from t_found where rule = 'accounts_per_device'$$,
  $$values ('dev-farm'::text, 6::numeric)$$, 'accounts_per_device fires for the device 6 accounts used');
select results_eq($$select subject, observed from t_found where rule = 'devices_per_account'$$,
  $$values ('e7300000-0000-0000-0000-000000000020'::text, 5::numeric)$$,
  'devices_per_account fires for the account seen on 5 devices (jobs and audit log)');
select results_eq($$select subject, observed from t_found where rule = 'auth_failure_burst'$$,
  $$values ('ip-brute'::text, 35::numeric)$$, 'auth_failure_burst fires for the IP hash with 35 401s');
select results_eq($$select subject_type, subject, observed from t_found where rule = 'refund_rate_spike'$$,
  $$values ('account'::text, 'e7300000-0000-0000-0000-000000000030'::text, 0.6667::numeric)$$,
  'refund_rate_spike fires for the account with 8 of 12 calls refunded');
select results_eq($$select subject, observed from t_found where rule = 'expired_unused_holds'$$,
  $$values ('e7300000-0000-0000-0000-000000000040'::text, 6::numeric)$$, 'expired_unused_holds fires for 6 unused holds');
select is((select count(*) from t_found), 7::bigint, 'and nothing else fires');

-- refund_rate_spike (global): the last hour fails far more often than the week did
select pg_temp.gen(lpad((300 + c)::text, 12, '0'), (select now from t_now) - make_interval(mins => c), 3,
                   case when c % 5 <> 0 then 'failed' else 'succeeded' end)
  from generate_series(1, 20) c;
select results_eq(
  $$select subject_type, subject from ops.anomaly_candidates((select now from t_now)) where rule = 'refund_rate_spike' and subject_type = 'global'$$,
  $$values ('global'::text, 'all'::text)$$, 'refund_rate_spike fires globally when the last hour''s refund share jumps');

-- ---------------------------------------------------------------------------------------------
-- Recording: rows, one alert each, deduplicated per bucket
-- ---------------------------------------------------------------------------------------------
select is(ops.detect_anomalies((select now from t_now)), 8, 'detect_anomalies records the 8 findings');
select is((select count(*) from ops.anomalies where window_end = (select now from t_now)), 8::bigint, 'as ops.anomalies rows');
select is((select count(*) from ops.alerts a join ops.anomalies n on a.dedup_key = 'anomaly:' || n.id and n.alert_id = a.id),
  8::bigint, 'each with its own alert');
select is((select count(*) from ops.alerts where rule = 'anomaly.auth_failure_burst' and channel = 'security'), 1::bigint,
  'account, device and IP findings go to the security channel');
select is((select channel from ops.alerts where rule = 'anomaly.refund_rate_spike' and details ->> 'subjectType' = 'global'), 'error',
  'a global finding goes to the error channel');
select is(ops.detect_anomalies((select now from t_now) + interval '10 minutes'), 0,
  'detecting again in the same hour/day records nothing new');
select is((select count(*) from ops.alerts where rule like 'anomaly.%'), 8::bigint, 'and raises no new alert');
select ok((select last_seen_at >= first_seen_at and window_end = (select now from t_now) + interval '10 minutes'
             from ops.anomalies where rule = 'auth_failure_burst'),
  'it only refreshes the existing row');

select * from finish();
rollback;
