-- GCRA has no fixed-window edge: a burst just before a minute boundary is not followed by a
-- second full burst just after it; capacity comes back one token per T = window/quota.
-- Also: expired state is purged, and the purge is scheduled in pg_cron.
begin;
create extension if not exists pgtap;
select plan(14);

-- Requests at given instants, one statement each; returns which were admitted.
create function pg_temp.take_at(p_policy text, p_key text, p_quota int, p_window int, p_at timestamptz[])
returns table (at timestamptz, allowed boolean, remaining int, retry_after_seconds int)
language plpgsql as $$
declare
  v_at timestamptz;
begin
  foreach v_at in array p_at loop
    at := v_at;
    select t.allowed, t.remaining, t.retry_after_seconds into allowed, remaining, retry_after_seconds
      from ops.rate_limit_take(p_policy, p_key, p_quota, p_window, 1, v_at) as t;
    return next;
  end loop;
end
$$;

-- Quota 10 per 60 s (T = 6 s). Ten requests at 00:00:59, just before a minute boundary.
select is(
  (select count(*)::int from pg_temp.take_at('test.edge', 'k', 10, 60,
     array_fill('2026-01-01 00:00:59+00'::timestamptz, array[10])) where allowed),
  10, 'a full burst of 10 is admitted at 00:00:59'
);
-- A fixed one-minute window would admit ten more from 00:01:00 on. GCRA admits none yet.
select results_eq(
  $$select allowed, remaining, retry_after_seconds
    from pg_temp.take_at('test.edge', 'k', 10, 60, array['2026-01-01 00:01:01+00'::timestamptz])$$,
  $$values (false, 0, 4)$$,
  'two seconds later, across the minute boundary, the next request is denied (retry after 4 s)'
);
select is(
  (select count(*)::int from pg_temp.take_at('test.edge', 'k', 10, 60,
     array_fill('2026-01-01 00:01:05+00'::timestamptz, array[10])) where allowed),
  1, 'six seconds after the burst (one T) exactly one more is admitted, not ten'
);
select is(
  (select count(*)::int from pg_temp.take_at('test.edge', 'k', 10, 60,
     array_fill('2026-01-01 00:02:05+00'::timestamptz, array[11])) where allowed),
  10, 'a full window after the last admission the bucket is full again: exactly 10 of 11'
);

-- Sustained load: one request per second for 10 minutes from an idle key. The burst (10) plus
-- one per T = 6 s for the 599 s between first and last request: 10 + floor(599 / 6) = 109.
create temp table sustained as
select * from pg_temp.take_at('test.sustained', 'k', 10, 60,
  array(select '2026-01-01 00:00:00+00'::timestamptz + s * interval '1 second'
        from generate_series(0, 599) as s));
select is(
  (select count(*)::int from sustained where allowed), 109,
  'one request per second for 600 s admits 10 + floor(599/6) = 109'
);
-- No span of 60 s ever admits more than the burst plus what one window earns (2x quota is the
-- GCRA bound for a whole window); spans of 2 s admit at most the quota. Slide over all starts.
select cmp_ok(
  (select max(c) from (
     select count(*) filter (where s2.allowed) as c
     from sustained as s1 join sustained as s2 on s2.at >= s1.at and s2.at < s1.at + interval '2 seconds'
     group by s1.at) as x),
  '<=', 10::bigint, 'no 2-second span admits more than the quota'
);
select cmp_ok(
  (select max(c) from (
     select count(*) filter (where s2.allowed) as c
     from sustained as s1 join sustained as s2 on s2.at >= s1.at and s2.at < s1.at + interval '60 seconds'
     where s1.at >= '2026-01-01 00:01:00+00'
     group by s1.at) as x),
  '<=', 10::bigint, 'under sustained load no 60-second span admits more than the quota'
);

-- A tightened policy (the env changed 10/3600 -> 10/60) caps old state at one new window.
select is(
  (select count(*)::int from pg_temp.take_at('test.tighten', 'k', 10, 3600,
     array_fill('2026-01-01 00:00:00+00'::timestamptz, array[10])) where allowed),
  10, 'ten admitted under 10/hour'
);
select results_eq(
  $$select allowed, retry_after_seconds
    from pg_temp.take_at('test.tighten', 'k', 10, 60, array['2026-01-01 00:00:00+00'::timestamptz])$$,
  $$values (false, 6)$$,
  'after tightening to 10/min the key waits at most one new T, not the rest of the hour'
);

-- Purge: rows whose tat has passed are full buckets and can go.
select is(
  ops.rate_limit_purge('2026-01-01 00:03:10+00'),
  1::bigint, 'purge at 00:03:10 removes the one bucket that is full again by then (test.edge)'
);
select is(
  (select count(*)::int from ops.rate_limit_state where policy like 'test.%'),
  2, 'buckets still refilling are kept'
);
select is(
  ops.rate_limit_purge('2027-01-01 00:00:00+00') >= 2,
  true, 'a later purge removes them too'
);
select is(
  (select schedule from cron.job where jobname = 'tollgate-purge-rate-limits'), '7 * * * *',
  'the purge is scheduled hourly in pg_cron as tollgate-purge-rate-limits'
);
select is(
  (select command from cron.job where jobname = 'tollgate-purge-rate-limits'),
  'select ops.rate_limit_purge()', 'the cron job runs ops.rate_limit_purge()'
);

select * from finish();
rollback;
