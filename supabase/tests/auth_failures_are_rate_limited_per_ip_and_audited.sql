-- Unauthenticated requests: every 401 is a security event auth.failed with the IP hash, and the
-- client IP's "unauthenticated" bucket admits its quota (100/min in production) — beyond it the
-- request is denied and NOT audited again, so a flood writes at most quota rows per window.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(9);

set local role tollgate_api;
select results_eq(
  $$select r.allowed, r.remaining from generate_series(1, 3) n
      cross join lateral api.auth_failed('hash-a', 3, 60, 'credits', 'bad_signature', 'req-' || n) r order by n$$,
  $$values (true, 2), (true, 1), (true, 0)$$, 'the quota is admitted, remaining counting down');
select results_eq($$select allowed, retry_after_seconds from api.auth_failed('hash-a', 3, 60, 'credits', 'bad_signature', 'req-4')$$,
  $$values (false, 20)$$, 'then denied with Retry-After = window/quota');
select results_eq($$select allowed from api.auth_failed('hash-b', 3, 60, 'jobs', 'token_expired', 'req-b')$$,
  $$values (true)$$, 'another IP is not affected');
select results_eq($$select allowed, remaining from api.auth_failed('hash-c', null, null, 'ai', 'missing_token')$$,
  $$values (true, null::int)$$, 'rate limiting off (null quota): admitted, not limited');
select throws_ok($$select * from api.auth_failed('', 3, 60, 'credits', 'x')$$, 'P0001', 'VALIDATION_FAILED',
  'an empty ip hash is refused');
reset role;

select is((select count(*) from ops.audit_log where action = 'auth.failed' and ip_hash = 'hash-a'), 3::bigint,
  'three audit rows for hash-a: the denied request wrote none');
select results_eq(
  $$select category, metadata ->> 'function', metadata ->> 'reason', request_id from ops.audit_log
     where action = 'auth.failed' and ip_hash = 'hash-a' order by id limit 1$$,
  $$values ('security'::text, 'credits'::text, 'bad_signature'::text, 'req-1'::text)$$,
  'a security event naming the function, the reason and the request');
select is((select count(*) from ops.audit_log where action = 'auth.failed' and ip_hash = 'hash-c'), 1::bigint,
  'with limiting off, 401s are still audited');
select is((select count(*) from ops.rate_limit_state where policy = 'unauthenticated' and key = 'ip:hash-a'), 1::bigint,
  'the bucket is keyed ip:<hash>');

select * from finish();
rollback;
