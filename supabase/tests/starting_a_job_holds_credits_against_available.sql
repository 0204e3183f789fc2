-- Starting a job holds its amount against available (no ledger row yet); a start above
-- available changes nothing; a retried start with the same idempotency key returns the same job.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(21);

select api.ensure_account('e4000000-0000-0000-0000-000000000001', 10);
create temp table t_first as
  select * from api.start_job('e4000000-0000-0000-0000-000000000001', 4, 60, 'device-1', 'start-1', extensions.digest('token-1', 'sha256'));

select results_eq($$select status, amount, spent, balance, held, available, replayed from t_first$$,
  $$values ('pending'::text, 4::bigint, 0::bigint, 10::bigint, 4::bigint, 6::bigint, false)$$,
  'the new job is pending and its 4 credits are held: available 10 -> 6');
select is((select expires_at from t_first), now() + interval '60 seconds', 'it expires ttl seconds after the start');
select is((select count(*) from credits.ledger where account_id = 'e4000000-0000-0000-0000-000000000001'), 1::bigint,
  'a hold writes no ledger row (only the initial grant is there)');
select is((select token_hash from credits.jobs where id = (select job_id from t_first)), extensions.digest('token-1', 'sha256'),
  'only the token''s SHA-256 is stored');

-- idempotent retry
select results_eq(
  $$select job_id, replayed, held from api.start_job('e4000000-0000-0000-0000-000000000001', 4, 60, 'device-1', 'start-1', extensions.digest('token-2', 'sha256'))$$,
  $$select job_id, true, 4::bigint from t_first$$,
  'a retry with the same key and parameters returns the same job and holds nothing more');
select is((select token_hash from credits.jobs where id = (select job_id from t_first)), extensions.digest('token-1', 'sha256'),
  'a replay keeps the original token valid');
select throws_ok(
  $$select api.start_job('e4000000-0000-0000-0000-000000000001', 5, 60, 'device-1', 'start-1', extensions.digest('token-2', 'sha256'))$$,
  'P0001', 'IDEMPOTENCY_KEY_REUSED', 'the same key with another amount is refused');
select throws_ok(
  $$select api.start_job('e4000000-0000-0000-0000-000000000001', 4, 60, 'device-2', 'start-1', extensions.digest('token-2', 'sha256'))$$,
  'P0001', 'IDEMPOTENCY_KEY_REUSED', 'the same key from another device is refused');

-- above available: refused, nothing changed
select throws_ok(
  $$select api.start_job('e4000000-0000-0000-0000-000000000001', 7, 60, null, 'start-2', extensions.digest('token-3', 'sha256'))$$,
  'P0001', 'INSUFFICIENT_CREDITS', 'a job above available (7 > 6) is refused');
select results_eq($$select balance, held, available from api.balance('e4000000-0000-0000-0000-000000000001')$$,
  $$values (10::bigint, 4::bigint, 6::bigint)$$, 'and nothing changed');
select is((select count(*) from credits.jobs where account_id = 'e4000000-0000-0000-0000-000000000001'), 1::bigint,
  'no job row was left behind');

-- exactly available is fine; then nothing is left, for jobs or one-shot charges
select is((select available from api.start_job('e4000000-0000-0000-0000-000000000001', 6, 60, null, null, extensions.digest('token-4', 'sha256'))),
  0::bigint, 'a job of exactly the available amount is held: available 0');
select throws_ok(
  $$select api.start_job('e4000000-0000-0000-0000-000000000001', 1, 60, null, null, extensions.digest('token-5', 'sha256'))$$,
  'P0001', 'INSUFFICIENT_CREDITS', 'no further job can be started');
select throws_ok($$select api.charge('e4000000-0000-0000-0000-000000000001', 1, 'img-1')$$,
  'P0001', 'INSUFFICIENT_CREDITS', 'holds count against one-shot charges too');
select is((select held from credits.accounts where id = 'e4000000-0000-0000-0000-000000000001'),
  (select sum(amount) from credits.jobs where account_id = 'e4000000-0000-0000-0000-000000000001' and status = 'pending')::bigint,
  'held is the sum of the pending jobs');

-- validation
select throws_ok($$select api.start_job('e4000000-0000-0000-0000-000000000001', 0, 60, null, null, extensions.digest('t', 'sha256'))$$,
  'P0001', 'VALIDATION_FAILED', 'amount 0 is invalid');
select throws_ok($$select api.start_job('e4000000-0000-0000-0000-000000000001', 1, 0, null, null, extensions.digest('t', 'sha256'))$$,
  'P0001', 'VALIDATION_FAILED', 'ttl 0 is invalid');
select throws_ok($$select api.start_job('e4000000-0000-0000-0000-000000000001', 1, 90000, null, null, extensions.digest('t', 'sha256'))$$,
  'P0001', 'VALIDATION_FAILED', 'ttl above 24 h is invalid');
select throws_ok($$select api.start_job('e4000000-0000-0000-0000-000000000001', 1, 60, null, null, '\x01'::bytea)$$,
  'P0001', 'VALIDATION_FAILED', 'a token hash that is not 32 bytes is invalid');
select throws_ok($$select api.start_job('e4000000-0000-0000-0000-000000000001', 1, 60, '', null, extensions.digest('t', 'sha256'))$$,
  'P0001', 'VALIDATION_FAILED', 'an empty device id is invalid');
select throws_ok($$select api.start_job('e4000000-0000-0000-0000-0000000000ff', 1, 60, null, null, extensions.digest('t', 'sha256'))$$,
  'P0001', 'NOT_FOUND', 'an account that was never ensured has no credits to hold');

select * from finish();
rollback;
