-- =============================================================================
-- Generation stats (issue 7 "Stats and anomalies") over credits.ai_generations (issue 5).
--
--   select * from ops.generation_stats();                                   -- last 24 h
--   select * from ops.generation_stats(now() - interval '1 hour', now());
--
-- One row per (model, kind) plus a total row ('(all)', '(all)'). Definitions:
--   calls           every generation record in the window (created_at in [p_from, p_to))
--   success_rate    succeeded / (succeeded + partial + failed): refused calls (402, bad model,
--                   bounds) never reached the upstream and running ones have no outcome yet
--   p50/p95 latency milliseconds to the provider's response headers (latency_ms), retries included
--   credits_charged Σ credits kept; credits_refunded Σ (reserved - charged) of failed and
--                   partial calls (the refunds); refunded_calls how many got a refund
--   server_errors   calls answered with a 5xx: upstream 5xx or our 502/503/504/500 codes
-- =============================================================================

-- The "5xx" of a generation, shared by the stats and the alert rule.
create function ops.generation_is_server_error(p_upstream_status integer, p_error_code text)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select coalesce(p_upstream_status >= 500, false)
      or coalesce(p_error_code in ('INTERNAL', 'BAD_GATEWAY', 'SERVICE_UNAVAILABLE', 'CIRCUIT_BREAKER_OPEN', 'TIMEOUT'), false)
$$;
comment on function ops.generation_is_server_error(integer, text) is
  'True when a generation ended in a 5xx for the client: the upstream answered >= 500, or Tollgate answered INTERNAL/BAD_GATEWAY/SERVICE_UNAVAILABLE/CIRCUIT_BREAKER_OPEN/TIMEOUT.';
create function ops.generation_stats(
  p_from timestamptz default now() - interval '24 hours',
  p_to timestamptz default now()
)
returns table (
  model text, kind text, calls bigint, succeeded bigint, partial bigint, failed bigint, refused bigint,
  running bigint, success_rate numeric, p50_latency_ms numeric, p95_latency_ms numeric,
  credits_reserved bigint, credits_charged bigint, credits_refunded bigint, refunded_calls bigint,
  server_errors bigint)
language sql
stable
set search_path = ''
as $$
  select coalesce(g.model, '(all)'),
         coalesce(g.kind, '(all)'),
         count(*),
         count(*) filter (where g.status = 'succeeded'),
         count(*) filter (where g.status = 'partial'),
         count(*) filter (where g.status = 'failed'),
         count(*) filter (where g.status = 'refused'),
         count(*) filter (where g.status = 'running'),
         round(count(*) filter (where g.status = 'succeeded')::numeric
               / nullif(count(*) filter (where g.status in ('succeeded', 'partial', 'failed')), 0), 4),
         round((percentile_cont(0.5) within group (order by g.latency_ms))::numeric, 1),
         round((percentile_cont(0.95) within group (order by g.latency_ms))::numeric, 1),
         coalesce(sum(g.credits_reserved), 0)::bigint,
         coalesce(sum(g.credits_charged), 0)::bigint,
         coalesce(sum(g.credits_reserved - g.credits_charged) filter (where g.status in ('failed', 'partial')), 0)::bigint,
         count(*) filter (where g.status in ('failed', 'partial') and g.credits_charged < g.credits_reserved),
         count(*) filter (where ops.generation_is_server_error(g.upstream_status, g.error_code))
    from credits.ai_generations g
   where g.created_at >= p_from and g.created_at < p_to
   group by grouping sets ((g.model, g.kind), ())
   order by grouping(g.model, g.kind), 1, 2
$$;

comment on function ops.generation_stats(timestamptz, timestamptz) is
  'AI generation stats in [p_from, p_to) (default: the last 24 h) by model and kind plus a total row (''(all)''): calls, outcomes, success rate (succeeded / finished non-refused), p50/p95 latency (ms), credits reserved/charged/refunded, refunded calls, server errors (5xx).';

revoke all on function ops.generation_stats(timestamptz, timestamptz), ops.generation_is_server_error(integer, text)
  from public, anon, authenticated;
