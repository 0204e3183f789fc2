-- A refund gives back exactly the tokens a failed upstream call took, and never more than a
-- full bucket.
begin;
create extension if not exists pgtap;
select plan(11);

create function pg_temp.admitted(p_key text, p_count int, p_now timestamptz)
returns int
language plpgsql as $$
declare
  v_admitted int := 0;
  v_allowed boolean;
begin
  for i in 1 .. p_count loop
    select t.allowed into v_allowed from ops.rate_limit_take('test.refund', p_key, 3, 60, 1, p_now) as t;
    if v_allowed then v_admitted := v_admitted + 1; end if;
  end loop;
  return v_admitted;
end
$$;

select is(pg_temp.admitted('k1', 4, '2026-01-01 00:00:00+00'), 3, 'quota 3: three of four admitted');
select lives_ok(
  $$select ops.rate_limit_refund('test.refund', 'k1', 1, '2026-01-01 00:00:00+00')$$,
  'refund one token'
);
select is(pg_temp.admitted('k1', 2, '2026-01-01 00:00:00+00'), 1, 'exactly one more is admitted after a refund of one');
select lives_ok(
  $$select ops.rate_limit_refund('test.refund', 'k1', 2, '2026-01-01 00:00:00+00')$$,
  'refund two tokens'
);
select is(pg_temp.admitted('k1', 3, '2026-01-01 00:00:00+00'), 2, 'exactly two more after a refund of two');

-- Refunding more than was taken never lifts the bucket above full.
select lives_ok(
  $$select ops.rate_limit_refund('test.refund', 'k1', 50, '2026-01-01 00:00:00+00')$$,
  'a refund of 50 on a bucket that took 3'
);
select is(pg_temp.admitted('k1', 5, '2026-01-01 00:00:00+00'), 3, 'the bucket is merely full: still exactly 3');

select lives_ok(
  $$select ops.rate_limit_refund('test.refund', 'never-seen', 1)$$,
  'a refund for an unknown key is a no-op'
);
select is(
  (select count(*)::int from ops.rate_limit_state where key = 'never-seen'), 0,
  'and creates no state'
);

set local role tollgate_api;
select lives_ok(
  $$select api.rate_limit_refund('test.refund', 'k1', 1)$$,
  'tollgate_api can refund through api.rate_limit_refund'
);
reset role;

select throws_ok(
  $$select ops.rate_limit_refund('test.refund', 'k1', 0)$$, 'P0001', 'VALIDATION_FAILED',
  'a refund of 0 tokens is rejected'
);

select * from finish();
rollback;
