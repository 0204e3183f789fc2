-- The daily snapshot copies the money tables with row counts and checksums that verify (and
-- stop verifying when a chunk is changed); generation stats summarise calls by model and kind;
-- the audit views answer the operator's questions and no client role can read any of it.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(20);

select api.ensure_account('e7500000-0000-0000-0000-000000000001', 10);
select api.charge('e7500000-0000-0000-0000-000000000001', 3, 'snap-1');

-- snapshot ------------------------------------------------------------------------------------
update ops.settings set value = '100' where key = 'snapshot.chunk_rows';
create temp table t_snap as select * from ops.snapshot_money_tables();
select ok((select tables ? 'ledger' and tables ? 'accounts' and tables ? 'jobs' and not tables ? 'idempotency_keys' from t_snap),
  'the snapshot covers the money tables but not idempotency keys');
select is((select (tables -> 'ledger' ->> 'rows')::bigint from t_snap), (select count(*) from credits.ledger),
  'it records the ledger''s row count');
select is((select row_count from t_snap), (select sum((v ->> 'rows')::bigint)::bigint from t_snap, jsonb_each(tables) e(k, v)),
  'and the total');
select ok((select checksum ~ '^[0-9a-f]{64}$' from t_snap), 'with a SHA-256 checksum');
select is((select consistent from t_snap), false, 'outside REPEATABLE READ it says it is not a consistent copy');
select is_empty($$select * from ops.verify_snapshot((select id from t_snap)) where not checksum_ok or rows_expected <> rows_found$$,
  'the snapshot verifies');
select ok((select count(*) > 1 from ops.snapshot_chunks where snapshot_id = (select id from t_snap) and table_name = 'ledger')
          or (select count(*) from credits.ledger) <= 100,
  'large tables are split into chunks of snapshot.chunk_rows rows');
select results_eq($$select (r ->> 'delta')::bigint from ops.snapshot_rows((select id from t_snap), 'ledger') r
                     where r ->> 'account_id' = 'e7500000-0000-0000-0000-000000000001' order by (r ->> 'seq')::int$$,
  $$values (10::bigint), (-3::bigint)$$, 'the rows come back as jsonb');
select is((select (jsonb_populate_record(null::credits.ledger, r)).hash from ops.snapshot_rows((select id from t_snap), 'ledger') r
            where r ->> 'cause_key' = 'snap-1'),
  (select hash from credits.ledger where cause_key = 'snap-1'), 'and rebuild the original row');
select ok((select bytes_stored > 0 and bytes_raw > 0 from t_snap), 'sizes are recorded (raw and stored)');
update ops.snapshot_chunks set data = replace(data, '"delta": -3', '"delta": -2')
 where snapshot_id = (select id from t_snap) and table_name = 'ledger';
select is((select checksum_ok from ops.verify_snapshot((select id from t_snap)) where table_name = 'ledger'), false,
  'a changed chunk no longer verifies');
update ops.snapshots set taken_at = now() - interval '8 days' where id = (select id from t_snap);
select ops.snapshot_money_tables();
select is((select count(*) from ops.snapshots where id = (select id from t_snap)), 0::bigint,
  'snapshots older than snapshot.retention_days are dropped by the next one');

-- generation stats ----------------------------------------------------------------------------
insert into credits.ai_generations (account_id, kind, model, status, credits_reserved, credits_charged, upstream_status,
                                    latency_ms, created_at, finished_at, error_code)
select 'e7500000-0000-0000-0000-000000000001', k, m, s, 10, case s when 'failed' then 0 when 'partial' then 4 else 7 end,
       case s when 'failed' then 503 else 200 end, l, '2031-02-01 10:00:00+00', '2031-02-01 10:00:01+00',
       case s when 'failed' then 'BAD_GATEWAY' end
  from (values ('chat', 'gpt-a', 'succeeded', 100), ('chat', 'gpt-a', 'succeeded', 200), ('chat', 'gpt-a', 'failed', 300),
               ('chat', 'gpt-a', 'partial', 400), ('images', 'img-b', 'succeeded', 1000)) v(k, m, s, l);
insert into credits.ai_generations (account_id, kind, model, status, credits_charged, created_at, finished_at)
values ('e7500000-0000-0000-0000-000000000001', 'chat', 'gpt-a', 'refused', 0, '2031-02-01 10:00:00+00', '2031-02-01 10:00:00+00');
select results_eq(
  $$select model, kind, calls, succeeded, failed, refused, success_rate, p50_latency_ms, credits_charged, credits_refunded, refunded_calls, server_errors
      from ops.generation_stats('2031-02-01', '2031-02-02')$$,
  $$values ('gpt-a'::text, 'chat'::text, 5::bigint, 2::bigint, 1::bigint, 1::bigint, 0.5::numeric, 250.0::numeric, 18::bigint, 16::bigint, 2::bigint, 1::bigint),
           ('img-b', 'images', 1, 1, 0, 0, 1.0, 1000.0, 7, 0, 0, 0),
           ('(all)', '(all)', 6, 3, 1, 1, 0.6, 300.0, 25, 16, 2, 1)$$,
  'stats by model and kind and in total: calls, outcomes, success rate, p50, credits charged and refunded, 5xx');
select is((select p95_latency_ms from ops.generation_stats('2031-02-01', '2031-02-02') where model = 'gpt-a'), 385.0,
  'with p95 latency');
select is((select calls from ops.generation_stats('2031-02-02', '2031-02-03') where model = '(all)'), 0::bigint,
  'an empty window has a zero total row');

-- audit views ---------------------------------------------------------------------------------
select is((select count(*) from audit.account_activity), 0::bigint, 'audit.account_activity is empty until an account is chosen');
set local tollgate.audit_account = 'e7500000-0000-0000-0000-000000000001';
select ok((select count(*) filter (where source = 'ledger') = 2 and count(*) filter (where source = 'generation') = 6
             from audit.account_activity),
  'then it shows that account''s ledger rows and AI calls');
select lives_ok($$select * from audit.security_events, audit.recent_errors limit 1;
                  select * from audit.discrepancies; select * from audit.reconcile_runs; select * from audit.generation_stats_24h;
                  select * from audit.anomalies; select * from audit.alerts; select * from audit.cron_job_health;
                  select * from audit.snapshots$$,
  'every audit view answers');
select is_empty($$select c.relname, r.rolname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                   cross join pg_roles r
                   where n.nspname = 'audit' and r.rolname in ('anon', 'authenticated', 'tollgate_api', 'service_role')
                     and has_table_privilege(r.oid, c.oid, 'SELECT')$$,
  'no client role and not the function role can read an audit view');
select is_empty($$select * from ops.lint()$$, 'the schema lint finds nothing in the ops objects');

select * from finish();
rollback;
