-- HTTP idempotency keys (per account, 24 h): same key + same request -> replay of the stored
-- response; different request -> IDEMPOTENCY_KEY_REUSED; still running -> IDEMPOTENCY_KEY_IN_USE.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(14);

select results_eq($$select state, response_status, response_body from api.idempotency_begin('af000000-0000-0000-0000-000000000001', 'key-1', 'hash-a')$$,
  $$values ('started'::text, null::integer, null::jsonb)$$, 'the first request with a key starts');
select throws_ok($$select api.idempotency_begin('af000000-0000-0000-0000-000000000001', 'key-1', 'hash-a')$$,
  'P0001', 'IDEMPOTENCY_KEY_IN_USE', 'the same request while the first is running is refused');
select throws_ok($$select api.idempotency_begin('af000000-0000-0000-0000-000000000001', 'key-1', 'hash-b')$$,
  'P0001', 'IDEMPOTENCY_KEY_REUSED', 'another request with the same key is refused');
select results_eq($$select state from api.idempotency_begin('af000000-0000-0000-0000-000000000002', 'key-1', 'hash-b')$$,
  $$values ('started'::text)$$, 'keys are per account');

select is(api.idempotency_complete('af000000-0000-0000-0000-000000000001', 'key-1', 201, '{"jobId":"j1"}'), true,
  'the response is stored');
select results_eq($$select state, response_status, response_body from api.idempotency_begin('af000000-0000-0000-0000-000000000001', 'key-1', 'hash-a')$$,
  $$values ('replay'::text, 201, '{"jobId":"j1"}'::jsonb)$$, 'the same request is answered with the stored response');
select throws_ok($$select api.idempotency_begin('af000000-0000-0000-0000-000000000001', 'key-1', 'hash-b')$$,
  'P0001', 'IDEMPOTENCY_KEY_REUSED', 'a different request is still refused after completion');
select is(api.idempotency_complete('af000000-0000-0000-0000-000000000001', 'key-1', 500, '{}'), false,
  'a completed response is never overwritten');

-- abandon (transient failure): the client may retry with the same key
select is(api.idempotency_abandon('af000000-0000-0000-0000-000000000002', 'key-1'), true, 'an in-progress claim can be abandoned');
select results_eq($$select state from api.idempotency_begin('af000000-0000-0000-0000-000000000002', 'key-1', 'hash-c')$$,
  $$values ('started'::text)$$, 'after which the key starts afresh');

-- expiry: 24 h for every key, 10 min for a stuck in-progress claim
update credits.idempotency_keys set created_at = now() - interval '11 minutes'
 where account_id = 'af000000-0000-0000-0000-000000000002';
select results_eq($$select state from api.idempotency_begin('af000000-0000-0000-0000-000000000002', 'key-1', 'hash-c')$$,
  $$values ('started'::text)$$, 'an in-progress claim older than 10 minutes can be claimed again');
update credits.idempotency_keys set created_at = now() - interval '25 hours'
 where account_id = 'af000000-0000-0000-0000-000000000001';
select is(api.purge_idempotency_keys(), 1, 'the purge removes keys older than 24 h');
select is((select schedule from cron.job where jobname = 'tollgate-purge-idempotency-keys'), '17 * * * *',
  'pg_cron purges hourly');

select throws_ok($$select api.idempotency_begin('af000000-0000-0000-0000-000000000001', '', 'hash-a')$$,
  'P0001', 'VALIDATION_FAILED', 'an empty key is invalid');

select * from finish();
rollback;
