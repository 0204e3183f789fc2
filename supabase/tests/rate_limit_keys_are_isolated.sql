-- Each (policy, key) has its own bucket: exhausting one account, device or IP never limits
-- another, and the same key under another policy has its own quota.
begin;
create extension if not exists pgtap;
select plan(9);

create function pg_temp.admitted(p_policy text, p_key text, p_quota int, p_count int)
returns int
language plpgsql as $$
declare
  v_admitted int := 0;
  v_allowed boolean;
begin
  for i in 1 .. p_count loop
    select t.allowed into v_allowed
      from ops.rate_limit_take(p_policy, p_key, p_quota, 60, 1, '2026-01-01 00:00:00+00') as t;
    if v_allowed then v_admitted := v_admitted + 1; end if;
  end loop;
  return v_admitted;
end
$$;

select is(pg_temp.admitted('chat', 'account:aaaa', 3, 5), 3, 'account A gets exactly its 3');
select is(pg_temp.admitted('chat', 'account:aaaa', 3, 1), 0, 'account A is now limited');
select is(pg_temp.admitted('chat', 'account:bbbb', 3, 5), 3, 'account B still gets its own 3');
select is(pg_temp.admitted('images', 'account:aaaa', 3, 5), 3, 'account A under another policy has its own 3');
select is(pg_temp.admitted('chat', 'device:aaaa', 3, 5), 3, 'a device key with the same suffix is a different bucket');
select is(
  (select count(*)::int from ops.rate_limit_state where policy in ('chat', 'images')), 4,
  'one state row per (policy, key)'
);

select throws_ok(
  $$select * from ops.rate_limit_take('chat', repeat('k', 257), 3, 60)$$, 'P0001', 'VALIDATION_FAILED',
  'a key longer than 256 characters is rejected'
);
select throws_ok(
  $$select * from ops.rate_limit_take('chat', '', 3, 60)$$, 'P0001', 'VALIDATION_FAILED',
  'an empty key is rejected'
);
select throws_ok(
  $$select * from ops.rate_limit_take(null, 'account:aaaa', 3, 60)$$, 'P0001', 'VALIDATION_FAILED',
  'a missing policy is rejected'
);

select * from finish();
rollback;
