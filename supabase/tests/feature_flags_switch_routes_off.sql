-- Kill switches: every route family has a flag, on by default; switching one off (admin API or
-- plain SQL) makes ops.require_flag raise MAINTENANCE with a Retry-After, and nothing done
-- earlier in the same call survives. Unknown names fail loudly.
begin;
create extension if not exists pgtap;
select plan(24);

-- The detail of the error a statement raises (throws_ok checks code and message only).
create function pg_temp.error_detail(p_sql text) returns text
language plpgsql as $$
declare
  v_detail text;
begin
  execute p_sql;
  return null;
exception when others then
  get stacked diagnostics v_detail = pg_exception_detail;
  return v_detail;
end
$$;

-- A stand-in for a later hot-path api.* function: takes a rate-limit token, then checks the flag.
create function pg_temp.hot_path(p_key text) returns void
language plpgsql as $$
begin
  perform ops.rate_limit_take('test.flags', p_key, 5, 60);
  perform ops.require_flag('ai.chat');
end
$$;

select is(
  (select relrowsecurity from pg_class where oid = 'ops.feature_flags'::regclass), true,
  'RLS is enabled on ops.feature_flags'
);
select results_eq(
  'select name, enabled, retry_after_seconds from api.flags_list()',
  $$values ('ai.chat', true, 60), ('ai.images', true, 60), ('ai.speech', true, 60),
           ('credits.redeem', true, 60), ('jobs.start', true, 60), ('purchases', true, 60)$$,
  'the six route families are seeded, all enabled, Retry-After 60 s'
);
select is(ops.flag_enabled('ai.chat'), true, 'ai.chat is on');
select lives_ok($$select ops.require_flag('ai.chat')$$, 'require_flag passes while on');

-- Switch off through the admin entry point, as the function role.
set local role tollgate_api;
select results_eq(
  $$select name, enabled, reason, retry_after_seconds, updated_by
    from api.flag_set('ai.chat', false, 'upstream outage', 'admin:current', 120)$$,
  $$values ('ai.chat'::text, false, 'upstream outage'::text, 120, 'admin:current'::text)$$,
  'api.flag_set switches ai.chat off and returns the new row'
);
select throws_ok(
  'select * from ops.feature_flags', '42501', null,
  'tollgate_api cannot read ops.feature_flags directly'
);
select throws_ok(
  $$select ops.require_flag('ai.chat')$$, '42501', null,
  'tollgate_api cannot call ops.require_flag directly (only through api.* functions)'
);
reset role;

select is(ops.flag_enabled('ai.chat'), false, 'ai.chat is off');
select throws_ok(
  $$select ops.require_flag('ai.chat')$$, 'P0001', 'MAINTENANCE',
  'require_flag raises MAINTENANCE while off'
);
select is(
  pg_temp.error_detail($$select ops.require_flag('ai.chat')$$)::jsonb,
  '{"flag": "ai.chat", "retry_after": 120}'::jsonb,
  'the MAINTENANCE detail carries the flag and Retry-After as JSON (the reason stays internal)'
);
select throws_ok(
  $$select pg_temp.hot_path('account:x')$$, 'P0001', 'MAINTENANCE',
  'a hot path that checks the flag is refused'
);
select is(
  (select count(*)::int from ops.rate_limit_state where policy = 'test.flags'), 0,
  'and nothing it did before the check survives (its rate-limit token is rolled back)'
);
select lives_ok($$select ops.require_flag('ai.speech')$$, 'other route families stay on');

-- Plain SQL works too, and is dated by the trigger.
update ops.feature_flags set enabled = false, updated_by = 'sql:alice' where name = 'jobs.start';
select is(ops.flag_enabled('jobs.start'), false, 'a plain-SQL update switches jobs.start off');
select is(
  (select updated_at from ops.feature_flags where name = 'jobs.start'), now(),
  'updated_at is stamped by the trigger on a plain-SQL toggle'
);
update ops.feature_flags set enabled = true where name = 'jobs.start';

select results_eq(
  $$select enabled, retry_after_seconds from api.flag_set('ai.chat', true, null, 'admin:next')$$,
  $$values (true, 120)$$,
  'switching back on keeps the Retry-After when none is given'
);
select lives_ok($$select pg_temp.hot_path('account:x')$$, 'the hot path runs again once back on');

-- Unknown names and bad input fail loudly.
select throws_ok(
  $$select ops.flag_enabled('ai.caht')$$, 'P0001', 'INTERNAL',
  'flag_enabled on an unknown name raises INTERNAL (a typo is not "enabled")'
);
select throws_ok(
  $$select ops.require_flag('ai.caht')$$, 'P0001', 'INTERNAL',
  'require_flag on an unknown name raises INTERNAL'
);
select throws_ok(
  $$select * from api.flag_set('ai.caht', false, 'typo', 'admin:current')$$, 'P0001', 'NOT_FOUND',
  'flag_set on an unknown name is NOT_FOUND and creates nothing'
);
select throws_ok(
  $$select * from api.flag_set('ai.chat', false, 'no actor', '  ')$$, 'P0001', 'VALIDATION_FAILED',
  'flag_set without an actor is rejected'
);
select throws_ok(
  $$select * from api.flag_set('ai.chat', null, 'null', 'admin:current')$$, 'P0001', 'VALIDATION_FAILED',
  'flag_set with enabled = null is rejected'
);
select throws_ok(
  $$select * from api.flag_set('ai.chat', false, 'x', 'admin:current', 0)$$, 'P0001', 'VALIDATION_FAILED',
  'flag_set with retry_after_seconds = 0 is rejected'
);
select is(
  has_function_privilege('authenticated', 'api.flag_set(text, boolean, text, text, integer)', 'execute'),
  false, 'client roles cannot execute api.flag_set'
);

select * from finish();
rollback;
