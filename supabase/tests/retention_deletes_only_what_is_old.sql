-- The daily retention job deletes rows older than their configured age and nothing else:
-- logs, settled alerts, anomalies, reconcile reports, snapshots, idempotency keys, rate-limit
-- state and pg_cron history. Money tables and pending alerts are never touched.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(14);

-- retention relative to a fixed "now" far ahead, so nothing else in the database is in the way
create temp table t_now as select '2031-06-01 00:00:00+00'::timestamptz as now;

update ops.settings set value = '10' where key = 'retention.audit_log_days';
update ops.settings set value = '5' where key = 'retention.error_log_days';

insert into ops.audit_log (at, category, action, metadata) values
  ('2031-05-21 23:00:00+00', 'security', 'retention.old', '{}'),      -- 10 days + 1 h old
  ('2031-05-22 01:00:00+00', 'security', 'retention.young', '{}');    -- just under 10 days
insert into ops.error_log (at, level, message) values
  ('2031-05-26 23:00:00+00', 'error', 'retention old'),
  ('2031-05-27 01:00:00+00', 'error', 'retention young');
insert into ops.alerts (created_at, rule, channel, severity, title, message, dedup_key, status, delivered_at) values
  ('2031-04-01', 'test.old', 'error', 'info', 't', 'm', 'ret:old-delivered', 'delivered', '2031-04-01'),
  ('2031-04-01', 'test.old', 'error', 'info', 't', 'm', 'ret:old-dead', 'dead', null),
  ('2031-04-01', 'test.old', 'error', 'info', 't', 'm', 'ret:old-pending', 'pending', null),
  ('2031-05-30', 'test.new', 'error', 'info', 't', 'm', 'ret:new-delivered', 'delivered', '2031-05-30');
insert into ops.anomalies (rule, subject_type, subject, bucket, window_start, window_end, observed, threshold, first_seen_at) values
  ('auth_failure_burst', 'ip_hash', 'ret-old', '2031-01-01', '2031-01-01', '2031-01-01', 1, 1, '2031-01-01'),
  ('auth_failure_burst', 'ip_hash', 'ret-new', '2031-05-31', '2031-05-31', '2031-05-31', 1, 1, '2031-05-31');
insert into ops.reconcile_runs (mode, status, started_at) values ('full', 'ok', '2031-01-01'), ('full', 'ok', '2031-05-31');
insert into ops.snapshots (taken_at, consistent) values ('2031-05-20', true), ('2031-05-31', true);
insert into credits.idempotency_keys (account_id, key, request_hash, created_at) values
  ('e7200000-0000-0000-0000-000000000001', 'ret-old', 'h', '2031-05-30 23:00:00+00'),
  ('e7200000-0000-0000-0000-000000000001', 'ret-new', 'h', '2031-05-31 01:00:00+00');
insert into ops.rate_limit_state (policy, key, tat, emission_interval_us) values
  ('ret', 'past', '2031-05-31 23:59:00+00', 1000000),
  ('ret', 'future', '2031-06-01 00:01:00+00', 1000000);
insert into cron.job_run_details (jobid, runid, status, start_time, end_time) values
  (0, -1, 'succeeded', '2031-05-01', '2031-05-01'), (0, -2, 'succeeded', '2031-05-31', '2031-05-31');

create temp table t_result as select ops.retention((select now from t_now)) as r;

select is((select array_agg(action order by action) from ops.audit_log where action like 'retention.%'), array['retention.young'],
  'audit events older than retention.audit_log_days are deleted, younger ones kept');
select is((select array_agg(message order by message) from ops.error_log where message like 'retention %'), array['retention young'],
  'errors older than retention.error_log_days are deleted, younger ones kept');
select is((select array_agg(dedup_key order by dedup_key) from ops.alerts where dedup_key like 'ret:%'),
  array['ret:new-delivered', 'ret:old-pending'], 'old delivered and dead alerts go; a pending alert stays whatever its age');
select is((select array_agg(subject) from ops.anomalies where subject like 'ret-%'), array['ret-new'], 'old anomalies go');
select is((select count(*) from ops.reconcile_runs where started_at in ('2031-01-01', '2031-05-31')), 1::bigint, 'old reconcile reports go');
select is((select array_agg(taken_at) from ops.snapshots where taken_at >= '2031-01-01'), array['2031-05-31 00:00:00+00'::timestamptz],
  'snapshots older than snapshot.retention_days go');
select is((select array_agg(key) from credits.idempotency_keys where key like 'ret-%'), array['ret-new'],
  'idempotency keys older than 24 h go');
select is((select array_agg(key) from ops.rate_limit_state where policy = 'ret'), array['future'],
  'rate-limit state whose bucket is full again goes');
select is((select array_agg(runid) from cron.job_run_details where jobid = 0), array[-2::bigint], 'old pg_cron history goes');
select is((select (r ->> 'audit_log')::int from t_result), 1, 'the result counts what was deleted per table');
select ok((select r ? 'cron_job_run_details' and r ? 'rate_limit_state' and r ? 'idempotency_keys' from t_result),
  'and names every table it cleans');

-- money is never touched: the ledger and jobs are not in the list and survive any age
select api.ensure_account('e7200000-0000-0000-0000-000000000002', 3);
select ops.retention('2099-01-01');
select is((select count(*) from credits.ledger where account_id = 'e7200000-0000-0000-0000-000000000002'), 1::bigint,
  'ledger rows are never deleted by retention');
select is((select count(*) from credits.accounts where id = 'e7200000-0000-0000-0000-000000000002'), 1::bigint,
  'nor accounts');

set local role tollgate_api;
select throws_ok($$select ops.retention()$$, '42501', null, 'the function role cannot run retention');
reset role;

select * from finish();
rollback;
