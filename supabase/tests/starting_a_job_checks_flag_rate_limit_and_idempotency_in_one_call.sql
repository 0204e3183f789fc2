-- api.jobs_start (POST /jobs in one call): kill switch, account creation, rate limit,
-- Idempotency-Key claim/replay and the hold happen in one transaction, in that order.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(17);

-- first call creates the account with the initial grant and holds
select results_eq(
  $$select replayed, response_status, (response->>'amount')::int, (response->>'available')::int,
           response ? 'jobToken', rate_limit_remaining
      from api.jobs_start('b1000000-0000-4000-8000-000000000001', 5, 3, 60, 2, 900, null,
                          '\xabababababababababababababababababababababababababababababababab', null, null)$$,
  $$values (false, 201, 2, 3, false, 2)$$,
  'the first start creates the account with the initial grant, holds, takes a rate-limit token and never returns a token');
select is((select balance::int from credits.accounts where id = 'b1000000-0000-4000-8000-000000000001'), 5,
  'the account got its initial grant exactly once');
select matches((select response->>'expiresAt' from api.jobs_start('b1000000-0000-4000-8000-000000000001', 5, null, null, 1, 60, null,
                '\xabababababababababababababababababababababababababababababababab', null, null)),
  '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$', 'expiresAt is UTC ISO-8601 with milliseconds');

-- idempotency: replay, reuse, in progress
select results_eq(
  $$select replayed from api.jobs_start('b1000000-0000-4000-8000-000000000002', 5, null, null, 1, 900, null,
        '\xabababababababababababababababababababababababababababababababab', 'key-1', 'hash-1')$$,
  $$values (false)$$, 'a keyed start runs');
select results_eq(
  $$select replayed, (select count(*)::int from credits.jobs where account_id = 'b1000000-0000-4000-8000-000000000002')
      from api.jobs_start('b1000000-0000-4000-8000-000000000002', 5, null, null, 1, 900, null,
        '\xabababababababababababababababababababababababababababababababab', 'key-1', 'hash-1')$$,
  $$values (true, 1)$$, 'the same key and request replay without a second job');
select is(
  (select response from api.jobs_start('b1000000-0000-4000-8000-000000000002', 5, null, null, 1, 900, null,
     '\xabababababababababababababababababababababababababababababababab', 'key-1', 'hash-1')),
  (select response_body -> 'json' from credits.idempotency_keys
    where account_id = 'b1000000-0000-4000-8000-000000000002' and key = 'key-1'),
  'the replay is the stored first response');
select throws_ok(
  $$select api.jobs_start('b1000000-0000-4000-8000-000000000002', 5, null, null, 2, 900, null,
      '\xabababababababababababababababababababababababababababababababab', 'key-1', 'hash-2')$$,
  'P0001', 'IDEMPOTENCY_KEY_REUSED', 'the same key with another request is refused');
select api.idempotency_begin('b1000000-0000-4000-8000-000000000002', 'key-2', 'hash-3');
select throws_ok(
  $$select api.jobs_start('b1000000-0000-4000-8000-000000000002', 5, null, null, 1, 900, null,
      '\xabababababababababababababababababababababababababababababababab', 'key-2', 'hash-3')$$,
  'P0001', 'IDEMPOTENCY_KEY_IN_USE', 'a key whose first request is still running is refused');
select throws_ok(
  $$select api.jobs_start('b1000000-0000-4000-8000-000000000002', 5, null, null, 1, 900, null,
      '\xabababababababababababababababababababababababababababababababab', 'key-3', null)$$,
  'P0001', 'VALIDATION_FAILED', 'a key needs a request hash');

-- errors change nothing (the claim is rolled back with them)
select throws_ok(
  $$select api.jobs_start('b1000000-0000-4000-8000-000000000002', 5, null, null, 100, 900, null,
      '\xabababababababababababababababababababababababababababababababab', 'key-4', 'hash-4')$$,
  'P0001', 'INSUFFICIENT_CREDITS', 'more than available is refused');
select is((select count(*)::int from credits.idempotency_keys
            where account_id = 'b1000000-0000-4000-8000-000000000002' and key = 'key-4'), 0,
  'a refused start leaves its key unused');

-- rate limit: quota 3 per account (the first test above took one)
select lives_ok(
  $$select api.jobs_start('b1000000-0000-4000-8000-000000000001', 5, 3, 60, 1, 900, null,
      '\xabababababababababababababababababababababababababababababababab', null, null)$$,
  'the second start within the quota is admitted');
select lives_ok(
  $$select api.jobs_start('b1000000-0000-4000-8000-000000000001', 5, 3, 60, 1, 900, null,
      '\xabababababababababababababababababababababababababababababababab', null, null)$$,
  'the third start within the quota is admitted');
select throws_like(
  $$select api.jobs_start('b1000000-0000-4000-8000-000000000001', 5, 3, 60, 1, 900, null,
      '\xabababababababababababababababababababababababababababababababab', null, null)$$,
  'RATE_LIMITED', 'the fourth start in the window is rate limited');
select is((select held::int from credits.accounts where id = 'b1000000-0000-4000-8000-000000000001'), 5,
  'the rate-limited start held nothing');

-- kill switch: off -> MAINTENANCE, nothing created (not even the account)
update ops.feature_flags set enabled = false where name = 'jobs.start';
select throws_like(
  $$select api.jobs_start('b1000000-0000-4000-8000-000000000003', 5, null, null, 1, 900, null,
      '\xabababababababababababababababababababababababababababababababab', null, null)$$,
  'MAINTENANCE', 'jobs.start switched off answers MAINTENANCE');
select is((select count(*)::int from credits.accounts where id = 'b1000000-0000-4000-8000-000000000003'), 0,
  'and creates nothing');

select * from finish();
rollback;
