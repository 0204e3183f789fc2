-- api.ai_begin refuses what the caller must fix — unknown model, per-model bounds, every job
-- check (with a reason saying which), too few credits — before anything is reserved: the
-- refusal is recorded as a generation, the balance and hold are untouched and an
-- Idempotency-Key claim is released for a retry.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(20);

select api.ai_price_set('tap-chat', 'chat', true, 'tap', p_credits_per_request => 2,
  p_credits_per_1k_input_tokens => 1000, p_credits_per_1k_output_tokens => 2000, p_max_output_tokens => 50);
select api.ensure_account('ac000000-0000-4000-8000-000000000001', 0);
select api.grant('ac000000-0000-4000-8000-000000000001', 1000, 'admin', 'tap');
select api.ensure_account('ac000000-0000-4000-8000-000000000002', 0);
select api.grant('ac000000-0000-4000-8000-000000000002', 1000, 'admin', 'tap');

create function pg_temp.refusal(p_kind text, p_model text, p_output bigint default null, p_voice text default null,
                                p_size text default null, p_quality text default null, p_job uuid default null,
                                p_token bytea default null, p_device text default null, p_streamed boolean default false,
                                p_account uuid default 'ac000000-0000-4000-8000-000000000001',
                                p_key text default null)
returns table (outcome text, code text, reason text)
language sql as $$
  select b.outcome, b.error_code, b.error_details ->> 'reason'
    from api.ai_begin(p_account, p_kind, p_model, p_streamed, 14, p_output, p_voice, p_size, p_quality, p_job, p_token,
                      p_device, null, null, 0, p_key, case when p_key is null then null else 'hash' end, 'tap') b
$$;

select results_eq($$select * from pg_temp.refusal('chat', 'gpt-unpriced')$$,
  $$values ('refused'::text, 'MODEL_NOT_ALLOWED'::text, null::text)$$, 'a model without a price is not allowed');
select results_eq($$select * from pg_temp.refusal('images', 'gpt-4o-mini')$$,
  $$values ('refused'::text, 'MODEL_NOT_ALLOWED'::text, null::text)$$, 'nor a model of another kind');
select results_eq($$select * from pg_temp.refusal('chat', 'tap-chat', 51)$$,
  $$values ('refused'::text, 'VALIDATION_FAILED'::text, 'max_tokens_above_cap'::text)$$, 'max_tokens is capped per model');
select results_eq($$select * from pg_temp.refusal('speech', 'tts-1', p_voice => 'darth')$$,
  $$values ('refused'::text, 'VALIDATION_FAILED'::text, 'voice_not_allowed'::text)$$, 'voices come from the allow-list');
select results_eq($$select * from pg_temp.refusal('images', 'dall-e-3', 2)$$,
  $$values ('refused'::text, 'VALIDATION_FAILED'::text, 'too_many_images'::text)$$, 'n is bounded per model');
select results_eq($$select * from pg_temp.refusal('images', 'dall-e-3', 1, p_size => '1024x1536')$$,
  $$values ('refused'::text, 'VALIDATION_FAILED'::text, 'size_quality_not_allowed'::text)$$, 'only priced sizes and qualities');

create temp table jobs as
  select 'mine' as name, job_id from api.start_job('ac000000-0000-4000-8000-000000000001', 200, 600, null, null, extensions.digest('t-mine', 'sha256'))
  union all
  select 'bound', job_id from api.start_job('ac000000-0000-4000-8000-000000000001', 200, 600, 'phone-1', null, extensions.digest('t-bound', 'sha256'))
  union all
  select 'theirs', job_id from api.start_job('ac000000-0000-4000-8000-000000000002', 200, 600, null, null, extensions.digest('t-theirs', 'sha256'))
  union all
  select 'small', job_id from api.start_job('ac000000-0000-4000-8000-000000000001', 100, 600, null, null, extensions.digest('t-small', 'sha256'))
  union all
  select 'old', job_id from api.start_job('ac000000-0000-4000-8000-000000000001', 100, 600, null, null, extensions.digest('t-old', 'sha256'))
  union all
  select 'done', job_id from api.start_job('ac000000-0000-4000-8000-000000000001', 100, 600, null, null, extensions.digest('t-done', 'sha256'));
-- now() is frozen inside the test's transaction: move the job back in time instead.
set local session_replication_role = replica;
update credits.jobs set created_at = now() - interval '2 minutes', expires_at = now() - interval '1 minute'
 where id = (select job_id from jobs where name = 'old');
set local session_replication_role = origin;
select api.cancel_job('ac000000-0000-4000-8000-000000000001', (select job_id from jobs where name = 'done'));
create function pg_temp.job(p_name text) returns uuid language sql as $$ select job_id from jobs where name = p_name $$;

select results_eq($$select * from pg_temp.refusal('chat', 'tap-chat', p_job => pg_temp.job('theirs'), p_token => extensions.digest('t-theirs', 'sha256'))$$,
  $$values ('refused'::text, 'UNAUTHORIZED'::text, 'job_not_found'::text)$$, 'another account''s job looks like no job');
select results_eq($$select * from pg_temp.refusal('chat', 'tap-chat', p_job => pg_temp.job('mine'), p_token => extensions.digest('t-wrong', 'sha256'))$$,
  $$values ('refused'::text, 'UNAUTHORIZED'::text, 'job_token_invalid'::text)$$, 'a wrong token');
select results_eq($$select * from pg_temp.refusal('chat', 'tap-chat', p_job => pg_temp.job('bound'), p_token => extensions.digest('t-bound', 'sha256'), p_device => 'phone-2')$$,
  $$values ('refused'::text, 'UNAUTHORIZED'::text, 'job_device_mismatch'::text)$$, 'another device');
select results_eq($$select * from pg_temp.refusal('chat', 'tap-chat', p_job => pg_temp.job('old'), p_token => extensions.digest('t-old', 'sha256'))$$,
  $$values ('refused'::text, 'UNAUTHORIZED'::text, 'job_expired'::text)$$, 'an expired job (even before the cron settled it)');
select results_eq($$select * from pg_temp.refusal('chat', 'tap-chat', p_job => pg_temp.job('done'), p_token => extensions.digest('t-done', 'sha256'))$$,
  $$values ('refused'::text, 'UNAUTHORIZED'::text, 'job_not_pending'::text)$$, 'a cancelled job');
select results_eq($$select * from pg_temp.refusal('chat', 'tap-chat', p_job => pg_temp.job('small'), p_token => extensions.digest('t-small', 'sha256'))$$,
  $$values ('refused'::text, 'INSUFFICIENT_CREDITS'::text, null::text)$$, 'a call that could exceed the remaining hold (116 > 100)');
select results_eq($$select outcome from pg_temp.refusal('chat', 'tap-chat', 30, p_job => pg_temp.job('small'), p_token => extensions.digest('t-small', 'sha256'))$$,
  $$values ('started'::text)$$, 'the same job funds a call that fits (2 + 14 + 60 = 76)');
select results_eq($$select outcome from pg_temp.refusal('chat', 'tap-chat', p_job => pg_temp.job('bound'), p_token => extensions.digest('t-bound', 'sha256'), p_device => 'phone-1')$$,
  $$values ('started'::text)$$, 'a bound job works from its device');

select api.grant('ac000000-0000-4000-8000-000000000002', 1, 'admin', 'tap-x');
select results_eq($$select * from pg_temp.refusal('chat', 'tap-chat', p_account => 'ac000000-0000-4000-8000-000000000003')$$,
  $$values ('refused'::text, 'INSUFFICIENT_CREDITS'::text, null::text)$$, 'one-shot: a new account with no grant cannot afford the maximum');
select results_eq($$select balance, held from api.balance('ac000000-0000-4000-8000-000000000003')$$,
  $$values (0::bigint, 0::bigint)$$, 'and is left as it was created');

select results_eq($$select balance, held from api.balance('ac000000-0000-4000-8000-000000000001')$$,
  $$values (1000::bigint, 500::bigint)$$, 'refusals moved no credits (held = the three live jobs; the expired one was released)');
select is((select count(*) from credits.ai_generations where account_id = 'ac000000-0000-4000-8000-000000000001' and status = 'refused' and credits_reserved = 0),
  12::bigint, 'every refusal is recorded, with nothing reserved');

select results_eq($$select * from pg_temp.refusal('chat', 'gpt-unpriced', p_key => 'k-1')$$,
  $$values ('refused'::text, 'MODEL_NOT_ALLOWED'::text, null::text)$$, 'a refused call with an Idempotency-Key ...');
select results_eq($$select * from pg_temp.refusal('chat', 'gpt-unpriced', p_key => 'k-1')$$,
  $$values ('refused'::text, 'MODEL_NOT_ALLOWED'::text, null::text)$$, '... released its key: the retry runs again (no 409)');

select * from finish();
rollback;
