-- api.ai_begin's guards raise before anything is recorded or reserved: the kill switch
-- (MAINTENANCE), the rate limit (RATE_LIMITED) and Idempotency-Key conflicts (IN_USE while the
-- first call runs, REUSED for another request). A finished call with a key is replayed without
-- a new charge; a failed one releases its key. Calls that never settled are released by the
-- stale sweeper (pg_cron, every minute).
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(19);

select api.ai_price_set('tap-chat', 'chat', true, 'tap', p_credits_per_request => 2,
  p_credits_per_1k_input_tokens => 1000, p_credits_per_1k_output_tokens => 2000, p_max_output_tokens => 50);
select api.ensure_account('ad000000-0000-4000-8000-000000000001', 0);
select api.grant('ad000000-0000-4000-8000-000000000001', 1000, 'admin', 'tap');

create function pg_temp.begin_chat(p_key text default null, p_hash text default null, p_quota integer default null,
                                   p_kind text default 'chat')
returns table (outcome text, generation_id uuid, reserved bigint, replay_status integer, replay_body jsonb)
language sql as $$
  select b.outcome, b.generation_id, b.reserved, b.replay_status, b.replay_body
    from api.ai_begin('ad000000-0000-4000-8000-000000000001', p_kind, 'tap-chat', false, 14, null, null, null, null,
                      null, null, null, p_quota, case when p_quota is null then null else 3600 end, 0,
                      p_key, p_hash, 'tap') b
$$;

-- Kill switch -----------------------------------------------------------------------------------
update ops.feature_flags set enabled = false where name = 'ai.chat';
select throws_ok($$select * from pg_temp.begin_chat()$$, 'P0001', 'MAINTENANCE', 'ai.chat off: MAINTENANCE');
update ops.feature_flags set enabled = true where name = 'ai.chat';
select is((select count(*) from credits.ai_generations where account_id = 'ad000000-0000-4000-8000-000000000001'), 0::bigint,
  'nothing recorded or charged while switched off');

-- Rate limit --------------------------------------------------------------------------------------
select lives_ok($$select * from pg_temp.begin_chat(p_quota => 1)$$, 'the first call within the quota passes');
select throws_ok($$select * from pg_temp.begin_chat(p_quota => 1)$$, 'P0001', 'RATE_LIMITED', 'the next one is limited');
select results_eq($$select balance - held from api.balance('ad000000-0000-4000-8000-000000000001')$$,
  $$values (884::bigint)$$, 'and reserved nothing (only the first call''s 116 are out)');

-- Idempotency-Key ---------------------------------------------------------------------------------
create temp table k1 as select * from pg_temp.begin_chat('key-1', 'hash-1');
select is((select outcome from k1), 'started', 'a new key starts the call');
select throws_ok($$select * from pg_temp.begin_chat('key-1', 'hash-1')$$, 'P0001', 'IDEMPOTENCY_KEY_IN_USE',
  'the same key while it runs: 409');
select throws_ok($$select * from pg_temp.begin_chat('key-1', 'hash-2')$$, 'P0001', 'IDEMPOTENCY_KEY_REUSED',
  'the key with another request: 422');
select api.ai_settle('ad000000-0000-4000-8000-000000000001', (select generation_id from k1), 'succeeded', null, 3, 5,
  'upstream', 200, 1, 5, 9, false, 200, '{"v":1,"headers":{"content-type":"application/json"},"json":{"id":"chatcmpl-1"}}');
select results_eq($$select outcome, generation_id, reserved, replay_status, replay_body -> 'json' ->> 'id' from pg_temp.begin_chat('key-1', 'hash-1')$$,
  $$values ('replay'::text, null::uuid, 0::bigint, 200, 'chatcmpl-1'::text)$$, 'a finished call is replayed');
select is((select count(*) from credits.ai_generations where idempotency_key = 'key-1'), 1::bigint,
  'the replay is not a new call');
select results_eq($$select balance - held from api.balance('ad000000-0000-4000-8000-000000000001')$$,
  $$values (884::bigint - 15)$$, 'and charged nothing more');

create temp table k2 as select * from pg_temp.begin_chat('key-2', 'hash-1');
select api.ai_settle('ad000000-0000-4000-8000-000000000001', (select generation_id from k2), 'failed', 'BAD_GATEWAY', null, null,
  null, 502, 3, 5, 9, true);
select is((select outcome from pg_temp.begin_chat('key-2', 'hash-1')), 'started', 'a failed call released its key: the retry runs');

-- Argument checks --------------------------------------------------------------------------------
select throws_ok($$select * from pg_temp.begin_chat(p_kind => 'video')$$, 'P0001', 'VALIDATION_FAILED', 'kind is checked');
select throws_ok($$select * from api.ai_begin('ad000000-0000-4000-8000-000000000001', 'chat', 'tap-chat', false, 1, null, null, null, null,
                     gen_random_uuid(), null, null, null, null, 0, null, null, 'tap')$$,
  'P0001', 'VALIDATION_FAILED', 'a job id needs its token');
select throws_ok($$select * from api.ai_begin('ad000000-0000-4000-8000-000000000001', 'chat', 'tap-chat', false, 1, null, null, null, null,
                     null, null, null, null, null, 0, 'key-3', null, 'tap')$$,
  'P0001', 'VALIDATION_FAILED', 'an idempotency key needs its request hash');

-- Stale calls -----------------------------------------------------------------------------------
create temp table s1 as select * from pg_temp.begin_chat();
update credits.ai_generations set created_at = now() - interval '11 minutes' where id = (select generation_id from s1);
select cmp_ok(api.ai_settle_stale(600), '>=', 1, 'the sweeper settles calls running for more than 10 minutes');
select results_eq($$select status, error_code, credits_charged from credits.ai_generations where id = (select generation_id from s1)$$,
  $$values ('failed'::text, 'STALE'::text, 0::bigint)$$, 'as failed, refunded in full');
select is((select count(*) from credits.ai_generations where account_id = 'ad000000-0000-4000-8000-000000000001' and status = 'running'), 2::bigint,
  'younger running calls are left alone');
select is((select count(*) from cron.job where jobname = 'tollgate-ai-settle-stale'), 1::bigint, 'pg_cron runs the sweeper');

select * from finish();
rollback;
