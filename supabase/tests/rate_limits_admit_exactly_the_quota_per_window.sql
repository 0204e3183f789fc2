-- A policy of N per window admits exactly N immediate requests, then denies with Retry-After,
-- and the state table is unreachable for the function role.
begin;
create extension if not exists pgtap;
select plan(20);

-- n consecutive takes, one statement each (a set-returning call in a join would be run once).
create function pg_temp.takes(
  p_policy text, p_key text, p_quota int, p_window int, p_count int, p_now timestamptz default null,
  p_api boolean default false
) returns table (n int, allowed boolean, remaining int, reset_seconds int, retry_after_seconds int)
language plpgsql as $$
begin
  for i in 1 .. p_count loop
    n := i;
    if p_api then
      select t.allowed, t.remaining, t.reset_seconds, t.retry_after_seconds
        into allowed, remaining, reset_seconds, retry_after_seconds
        from api.rate_limit_take(p_policy, p_key, p_quota, p_window) as t;
    else
      select t.allowed, t.remaining, t.reset_seconds, t.retry_after_seconds
        into allowed, remaining, reset_seconds, retry_after_seconds
        from ops.rate_limit_take(p_policy, p_key, p_quota, p_window, 1, p_now) as t;
    end if;
    return next;
  end loop;
end
$$;

select is(
  (select relpersistence::text from pg_class where oid = 'ops.rate_limit_state'::regclass), 'u',
  'rate-limit state is UNLOGGED (limits reset after a crash, by design)'
);
select is(
  (select relrowsecurity from pg_class where oid = 'ops.rate_limit_state'::regclass), true,
  'RLS is enabled on the rate-limit state'
);

-- Exact decision values at a fixed instant: quota 5 per 60 s, so T = 12 s.
create temp table takes as
select * from pg_temp.takes('test.quota', 'account:a', 5, 60, 6, '2026-01-01 00:00:00+00');

select results_eq(
  'select n, allowed, remaining, reset_seconds, retry_after_seconds from takes order by n',
  $$values (1, true, 4, 12, 0), (2, true, 3, 24, 0), (3, true, 2, 36, 0),
           (4, true, 1, 48, 0), (5, true, 0, 60, 12), (6, false, 0, 60, 12)$$,
  'quota 5/60 s: five admitted with remaining 4..0, the sixth denied with retry_after = T = 12 s'
);
select is(
  (select tat from ops.rate_limit_state where policy = 'test.quota' and key = 'account:a'),
  '2026-01-01 00:01:00+00'::timestamptz,
  'a denied take leaves the state untouched (tat = now + window after the fifth)'
);
select is(
  (select allowed from ops.rate_limit_take('test.quota', 'account:a', 5, 60, 1, '2026-01-01 00:00:11.999999+00')),
  false, 'one microsecond before Retry-After has passed the next request is still denied'
);
select is(
  (select allowed from ops.rate_limit_take('test.quota', 'account:a', 5, 60, 1, '2026-01-01 00:00:12+00')),
  true, 'exactly at Retry-After the next request is admitted'
);

-- A cost larger than 1 takes several tokens at once.
select results_eq(
  $$select allowed, remaining from ops.rate_limit_take('test.cost', 'account:a', 10, 60, 4, '2026-01-01 00:00:00+00')$$,
  $$values (true, 6)$$, 'cost 4 of quota 10 leaves 6'
);
select results_eq(
  $$select allowed, remaining, retry_after_seconds from ops.rate_limit_take('test.cost', 'account:a', 10, 60, 7, '2026-01-01 00:00:00+00')$$,
  $$values (false, 6, 6)$$, 'cost 7 with 6 left is denied; retry_after is when 7 fit (one more T = 6 s)'
);

-- Awkward ratios: 7 per 60 s (T not a whole number of microseconds) still admits exactly 7.
select is(
  (select count(*)::int from pg_temp.takes('test.seven', 'k', 7, 60, 8, '2026-01-01 00:00:00+00')
   where allowed),
  7, 'quota 7/60 s admits exactly 7 of 8'
);

-- The function role uses api.rate_limit_take and reaches nothing else.
set local role tollgate_api;
select is(
  (select count(*)::int from pg_temp.takes('test.api', 'ip:abc', 3, 60, 4, p_api => true)
   where allowed),
  3, 'api.rate_limit_take (as tollgate_api, real clock) admits exactly 3 of 4 for quota 3'
);
select results_eq(
  $$select allowed, remaining from api.rate_limit_take('test.api', 'ip:abc', 3, 60)$$,
  $$values (false, 0)$$, 'and keeps denying with remaining 0'
);
select throws_ok(
  'select * from ops.rate_limit_state', '42501', null,
  'tollgate_api cannot read the rate-limit state'
);
select throws_ok(
  $$select * from ops.rate_limit_take('x', 'k', 1, 60)$$, '42501', null,
  'tollgate_api cannot call ops.rate_limit_take directly (no usage on schema ops)'
);
reset role;

select is(
  has_function_privilege('anon', 'api.rate_limit_take(text, text, integer, integer, integer)', 'execute'),
  false, 'anon cannot execute api.rate_limit_take'
);

-- Invalid arguments are rejected, never silently treated as "unlimited".
select throws_ok(
  $$select * from ops.rate_limit_take('p', 'k', 0, 60)$$, 'P0001', 'VALIDATION_FAILED',
  'quota 0 is rejected'
);
select throws_ok(
  $$select * from ops.rate_limit_take('p', 'k', 5, 0)$$, 'P0001', 'VALIDATION_FAILED',
  'window 0 is rejected'
);
select throws_ok(
  $$select * from ops.rate_limit_take('p', 'k', 5, 60, 6)$$, 'P0001', 'VALIDATION_FAILED',
  'a cost above the quota is rejected'
);
select throws_ok(
  $$select * from ops.rate_limit_take('p', 'k', 5, 60, 0)$$, 'P0001', 'VALIDATION_FAILED',
  'cost 0 is rejected'
);
select throws_ok(
  $$select * from ops.rate_limit_take('p', 'k', 2000, 1)$$, 'P0001', 'VALIDATION_FAILED',
  'a quota too fine for microsecond resolution (2000/s) is rejected'
);
select throws_ok(
  $$select * from ops.rate_limit_require('test.api', 'ip:abc', 3, 60)$$, 'P0001', 'RATE_LIMITED',
  'ops.rate_limit_require raises RATE_LIMITED once the quota is used up'
);

select * from finish();
rollback;
