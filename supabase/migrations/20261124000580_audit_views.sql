-- =============================================================================
-- SQL audits (issue 7): read-only views for the Supabase dashboard's SQL editor.
--
--   select * from audit.security_events;          -- last 7 days of security audit events
--   select * from audit.recent_errors;            -- last 7 days of the error log
--   set tollgate.audit_account = '<uuid>';        -- then:
--   select * from audit.account_activity;         -- that account's ledger, jobs, AI calls, events
--   select * from audit.discrepancies;            -- open reconciliation findings
--   select * from audit.reconcile_runs;           -- the latest reconcile reports
--   select * from audit.generation_stats_24h;     -- AI stats by model and kind
--   select * from audit.anomalies;                -- anomalies of the last 30 days
--   select * from audit.alerts;                   -- the alert outbox and delivery state
--   select * from audit.cron_job_health;          -- every pg_cron job, last run, failures
--   select * from audit.snapshots;                -- in-database snapshots
-- Nothing here is granted to any client role.
-- =============================================================================

create view audit.security_events as
  select a.at, a.action, a.account_id, a.device_id, a.ip_hash, a.request_id, a.metadata
    from ops.audit_log a
   where a.category = 'security' and a.at > now() - interval '7 days'
   order by a.at desc;
comment on view audit.security_events is 'Security events (auth failures, promo failures and blocks, ...) of the last 7 days, newest first.';

create view audit.recent_errors as
  select e.at, e.level, e.function_name, e.message, e.request_id, e.metadata, e.stack
    from ops.error_log e
   where e.at > now() - interval '7 days'
   order by e.at desc;
comment on view audit.recent_errors is 'Unexpected errors (500s) written by the functions in the last 7 days, newest first; request_id joins the function logs.';

-- One account's activity: a function (for any account) and a view bound to a session setting.
create function ops.account_activity(p_account uuid, p_limit integer default 500)
returns table (at timestamptz, source text, what text, amount bigint, reference text, details jsonb)
language sql
stable
set search_path = ''
as $$
  select x.at, x.source, x.what, x.amount, x.reference, x.details
    from (
      select l.created_at as at, 'ledger'::text as source, l.kind as what, l.delta as amount, l.cause_key as reference,
             jsonb_build_object('seq', l.seq, 'balanceAfter', l.balance_after, 'reason', l.reason, 'ledgerId', l.id) as details
        from credits.ledger l where l.account_id = p_account
      union all
      select j.created_at, 'job', 'job.' || j.status, j.amount, j.id::text,
             jsonb_build_object('spent', j.spent, 'debited', j.debited, 'expiresAt', j.expires_at,
                                'settledAt', j.settled_at, 'deviceId', j.device_id)
        from credits.jobs j where j.account_id = p_account
      union all
      select g.created_at, 'generation', g.kind || '.' || g.status, g.credits_charged, g.id::text,
             jsonb_build_object('model', g.model, 'reserved', g.credits_reserved, 'errorCode', g.error_code,
                                'upstreamStatus', g.upstream_status, 'latencyMs', g.latency_ms, 'jobId', g.job_id,
                                'requestId', g.request_id)
        from credits.ai_generations g where g.account_id = p_account
      union all
      select a.at, 'audit', a.category || ':' || a.action, null::bigint, a.request_id,
             jsonb_build_object('deviceId', a.device_id, 'ipHash', a.ip_hash) || a.metadata
        from ops.audit_log a where a.account_id = p_account
    ) x
   order by x.at desc, x.source
   limit p_limit
$$;
comment on function ops.account_activity(uuid, integer) is
  'Everything about one account, newest first: ledger rows, jobs, AI generations and audit events (at most p_limit rows).';

create view audit.account_activity as
  select a.at, a.source, a.what, a.amount, a.reference, a.details
    from ops.account_activity(nullif(current_setting('tollgate.audit_account', true), '')::uuid) a;
comment on view audit.account_activity is
  'One account''s activity: run `set tollgate.audit_account = ''<account uuid>'';` first (empty otherwise). Same as ops.account_activity(<uuid>).';

create view audit.discrepancies as
  select d.id, d.account_id, d.problem, d.ledger_id, d.seq, d.expected, d.actual,
         d.first_seen_at, d.last_seen_at, d.first_run_id, d.last_run_id, d.resolved_at
    from ops.reconcile_discrepancies d
   where d.resolved_at is null or d.resolved_at > now() - interval '7 days'
   order by d.resolved_at is null desc, d.first_seen_at desc;
comment on view audit.discrepancies is
  'Reconciliation findings: open ones first (resolved_at null), then those resolved in the last 7 days. Close one after investigating: update ops.reconcile_discrepancies set resolved_at = now() where id = ...;';

create view audit.reconcile_runs as
  select r.id, r.mode, r.status, r.started_at, r.duration_ms, r.accounts_checked, r.rows_checked, r.rows_scanned,
         r.discrepancies, r.new_discrepancies
    from ops.reconcile_runs r
   order by r.started_at desc
   limit 200;
comment on view audit.reconcile_runs is 'The latest 200 reconcile reports (incremental every 15 min, full daily).';

create view audit.generation_stats_24h as
  select s.* from ops.generation_stats(now() - interval '24 hours', now()) s;
comment on view audit.generation_stats_24h is 'AI generation stats of the last 24 h by model and kind, with a total row (''(all)'').';

create view audit.anomalies as
  select a.id, a.rule, a.subject_type, a.subject, a.observed, a.threshold, a.window_start, a.window_end,
         a.first_seen_at, a.last_seen_at, a.details, a.alert_id
    from ops.anomalies a
   where a.first_seen_at > now() - interval '30 days'
   order by a.first_seen_at desc;
comment on view audit.anomalies is 'Anomalies found in the last 30 days, newest first (rules: see ops.anomaly_candidates).';

create view audit.alerts as
  select a.id, a.created_at, a.rule, a.channel, a.severity, a.title, a.status, a.attempts,
         a.next_attempt_at, a.delivered_at, a.last_error
    from ops.alerts a
   where a.status = 'pending' or a.created_at > now() - interval '7 days'
   order by a.created_at desc;
comment on view audit.alerts is 'The alert outbox: every pending alert and everything of the last 7 days with its delivery state (dead = gave up after alerts.max_attempts).';

create view audit.cron_job_health as
  select j.jobid, j.jobname, j.schedule, j.active, j.command,
         last.start_time as last_run_at, last.status as last_status,
         left(last.return_message, 300) as last_message,
         coalesce(stats.runs_24h, 0) as runs_24h,
         coalesce(stats.failures_24h, 0) as failures_24h,
         stats.last_failure_at
    from cron.job j
    left join lateral (
      select d.start_time, d.status, d.return_message
        from cron.job_run_details d where d.jobid = j.jobid
       order by d.start_time desc nulls last limit 1) last on true
    left join lateral (
      select count(*) as runs_24h,
             count(*) filter (where d.status = 'failed') as failures_24h,
             max(d.start_time) filter (where d.status = 'failed') as last_failure_at
        from cron.job_run_details d
       where d.jobid = j.jobid and d.start_time > now() - interval '24 hours') stats on true
   order by coalesce(stats.failures_24h, 0) desc, j.jobname;
comment on view audit.cron_job_health is 'Every pg_cron job: schedule, last run and its status/message, runs and failures in the last 24 h (failing jobs first).';

create view audit.snapshots as
  select s.id, s.taken_at, s.consistent, s.row_count, s.bytes_raw, s.bytes_stored,
         round(s.bytes_stored::numeric / nullif(s.bytes_raw, 0), 3) as compression_ratio,
         s.tables, s.checksum, s.duration_ms
    from ops.snapshots s
   order by s.taken_at desc;
comment on view audit.snapshots is 'In-database snapshots of the money tables (kept snapshot.retention_days), with row counts, sizes and checksums.';

revoke all on function ops.account_activity(uuid, integer) from public, anon, authenticated;
revoke all on audit.security_events, audit.recent_errors, audit.account_activity, audit.discrepancies,
  audit.reconcile_runs, audit.generation_stats_24h, audit.anomalies, audit.alerts, audit.cron_job_health,
  audit.snapshots
  from public, anon, authenticated;
