-- A paid AI call reserves before the upstream (one-shot: the maximum cost is charged; job: it is
-- spent from the hold; a job-paid chat stream: min(maximum, remaining)) and settles exactly once:
-- the usage is charged (never above the reservation), the rest goes back once, a failure gives
-- back everything and, when asked, the rate-limit token.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(26);

-- tap-chat: 2 per call + 1 per prompt token + 2 per completion token, max_tokens 50.
select api.ai_price_set('tap-chat', 'chat', true, 'tap', p_credits_per_request => 2,
  p_credits_per_1k_input_tokens => 1000, p_credits_per_1k_output_tokens => 2000, p_max_output_tokens => 50);
select api.ensure_account('ab000000-0000-4000-8000-000000000001', 0);
select api.grant('ab000000-0000-4000-8000-000000000001', 200, 'admin', 'tap');

create function pg_temp.begin_chat(p_account uuid, p_job uuid default null, p_token bytea default null,
                                   p_streamed boolean default false, p_quota integer default null)
returns table (outcome text, generation_id uuid, reserved bigint, max_output_units bigint,
               error_code text, rate_limit_remaining integer)
language sql as $$
  select b.outcome, b.generation_id, b.reserved, b.max_output_units, b.error_code, b.rate_limit_remaining
    from api.ai_begin(p_account, 'chat', 'tap-chat', p_streamed, 14, null, null, null, null, p_job, p_token,
                      null, p_quota, case when p_quota is null then null else 3600 end, 0, null, null, 'tap-request') b
$$;

create function pg_temp.settle(p_account uuid, p_gen uuid, p_status text, p_in bigint, p_out bigint,
                               p_give_back boolean default false)
returns table (applied boolean, status text, reserved bigint, charged bigint, refunded bigint)
language sql as $$
  select * from api.ai_settle(p_account, p_gen, p_status, case when p_status = 'failed' then 'BAD_GATEWAY' end,
                              p_in, p_out, case when p_status = 'failed' then null else 'upstream' end,
                              200, 1, 10, 20, p_give_back)
$$;

-- One-shot ----------------------------------------------------------------------------------
create temp table c1 as select * from pg_temp.begin_chat('ab000000-0000-4000-8000-000000000001');
select results_eq($$select outcome, reserved, max_output_units from c1$$,
  $$values ('started'::text, 116::bigint, 50::bigint)$$, 'one-shot: the maximum cost 2 + 14 + 2*50 is reserved');
select results_eq($$select balance, held from api.balance('ab000000-0000-4000-8000-000000000001')$$,
  $$values (84::bigint, 0::bigint)$$, 'charged at once, before the upstream is called');
select results_eq($$select status, credits_reserved, credits_charged, job_id from credits.ai_generations where id = (select generation_id from c1)$$,
  $$values ('running'::text, 116::bigint, null::bigint, null::uuid)$$, 'a running generation record');
select results_eq($$select applied, status, charged, refunded from pg_temp.settle('ab000000-0000-4000-8000-000000000001', (select generation_id from c1), 'succeeded', 3, 5)$$,
  $$values (true, 'succeeded'::text, 15::bigint, 101::bigint)$$, 'settled to the usage: 2 + 3 + 10 = 15, the rest refunded');
select is((select balance from api.balance('ab000000-0000-4000-8000-000000000001')), 185::bigint, 'the balance is 200 - 15');
select results_eq($$select applied, charged from pg_temp.settle('ab000000-0000-4000-8000-000000000001', (select generation_id from c1), 'failed', null, null)$$,
  $$values (false, 15::bigint)$$, 'a second settlement changes nothing');
select is((select balance from api.balance('ab000000-0000-4000-8000-000000000001')), 185::bigint, 'not even a failure reported later');
select results_eq($$select kind, delta from credits.ledger where cause_key = 'ai:' || (select generation_id from c1)::text order by seq$$,
  $$values ('charge'::text, -116::bigint), ('refund'::text, 101::bigint)$$, 'one charge row and one refund row');

create temp table c2 as select * from pg_temp.begin_chat('ab000000-0000-4000-8000-000000000001');
select results_eq($$select charged, refunded from pg_temp.settle('ab000000-0000-4000-8000-000000000001', (select generation_id from c2), 'failed', null, null)$$,
  $$values (0::bigint, 116::bigint)$$, 'a failed call is refunded in full');
create temp table c3 as select * from pg_temp.begin_chat('ab000000-0000-4000-8000-000000000001');
select results_eq($$select charged from pg_temp.settle('ab000000-0000-4000-8000-000000000001', (select generation_id from c3), 'succeeded', 5000, 5000)$$,
  $$values (116::bigint)$$, 'usage above the reservation is capped at it (never an overdraft)');
select is((select balance from api.balance('ab000000-0000-4000-8000-000000000001')), 69::bigint, '185 - 116');
select throws_ok($$select * from pg_temp.settle('ab000000-0000-4000-8000-000000000002', (select generation_id from c3), 'failed', null, null)$$,
  'P0001', 'NOT_FOUND', 'another account cannot settle the call');
select throws_ok($$select * from pg_temp.settle('ab000000-0000-4000-8000-000000000001', (select generation_id from c3), 'done', null, null)$$,
  'P0001', 'VALIDATION_FAILED', 'the final status is one of succeeded, partial, failed');

-- By job --------------------------------------------------------------------------------------
select api.grant('ab000000-0000-4000-8000-000000000001', 1000, 'admin', 'tap-2');
create temp table j1 as select job_id from api.start_job('ab000000-0000-4000-8000-000000000001', 300, 600, null, null, extensions.digest('tok-1', 'sha256'));
create temp table g1 as select * from pg_temp.begin_chat('ab000000-0000-4000-8000-000000000001', (select job_id from j1), extensions.digest('tok-1', 'sha256'));
select results_eq($$select amount, spent from credits.jobs where id = (select job_id from j1)$$,
  $$values (300::bigint, 116::bigint)$$, 'by job: the maximum is spent from the hold');
select results_eq($$select charged, refunded from pg_temp.settle('ab000000-0000-4000-8000-000000000001', (select generation_id from g1), 'partial', 3, 2)$$,
  $$values (9::bigint, 107::bigint)$$, 'a partial stream is charged what was delivered: 2 + 3 + 4');
select results_eq($$select spent, status from credits.jobs where id = (select job_id from j1)$$,
  $$values (9::bigint, 'pending'::text)$$, 'the rest is back in the hold');
select is((select balance from api.balance('ab000000-0000-4000-8000-000000000001')), 1069::bigint,
  'paying by job moves no ledger row until the job settles');

-- A job-paid chat stream reserves what is left, at least its minimum.
create temp table j2 as select job_id from api.start_job('ab000000-0000-4000-8000-000000000001', 40, 600, null, null, extensions.digest('tok-2', 'sha256'));
create temp table g2 as select * from pg_temp.begin_chat('ab000000-0000-4000-8000-000000000001', (select job_id from j2), extensions.digest('tok-2', 'sha256'), true);
select results_eq($$select outcome, reserved from g2$$, $$values ('started'::text, 40::bigint)$$,
  'a stream on a 40-credit job reserves min(116, 40)');
select results_eq($$select outcome, error_code from pg_temp.begin_chat('ab000000-0000-4000-8000-000000000001', (select job_id from j2), extensions.digest('tok-2', 'sha256'), true)$$,
  $$values ('refused'::text, 'INSUFFICIENT_CREDITS'::text)$$, 'a second stream finds nothing left and is refused');

-- The job settles while the call runs: the reservation was debited with it.
create temp table j3 as select job_id from api.start_job('ab000000-0000-4000-8000-000000000001', 200, 600, null, null, extensions.digest('tok-3', 'sha256'));
create temp table g3 as select * from pg_temp.begin_chat('ab000000-0000-4000-8000-000000000001', (select job_id from j3), extensions.digest('tok-3', 'sha256'));
select api.commit_job('ab000000-0000-4000-8000-000000000001', (select job_id from j3), 116);
select results_eq($$select applied, charged, refunded from pg_temp.settle('ab000000-0000-4000-8000-000000000001', (select generation_id from g3), 'failed', null, null)$$,
  $$values (true, 116::bigint, 0::bigint)$$, 'a call settled after its job was committed records what was really paid');

-- Rate-limit token back on upstream failure -------------------------------------------------
create temp table r1 as select * from pg_temp.begin_chat('ab000000-0000-4000-8000-000000000001', p_quota => 60);
select is((select rate_limit_remaining from r1), 59, 'the call took a rate-limit token');
select pg_temp.settle('ab000000-0000-4000-8000-000000000001', (select generation_id from r1), 'failed', null, null, true);
create temp table r2 as select * from pg_temp.begin_chat('ab000000-0000-4000-8000-000000000001', p_quota => 60);
select is((select rate_limit_remaining from r2), 59, 'a call that failed upstream gave its token back');
select pg_temp.settle('ab000000-0000-4000-8000-000000000001', (select generation_id from r2), 'succeeded', 1, 1, false);
create temp table r3 as select * from pg_temp.begin_chat('ab000000-0000-4000-8000-000000000001', p_quota => 60);
select is((select rate_limit_remaining from r3), 58, 'a successful call keeps it');

-- The record ---------------------------------------------------------------------------------
select throws_ok($$update credits.ai_generations set credits_charged = credits_reserved + 1 where id = (select generation_id from c1)$$,
  '23514', null, 'a record can never show more charged than reserved');
select is((select count(*) from credits.ai_generations where account_id = 'ab000000-0000-4000-8000-000000000001'), 10::bigint,
  'one record per call (refusals included)');
select ok(not has_function_privilege('authenticated', 'api.ai_settle(uuid, uuid, text, text, bigint, bigint, text, integer, integer, integer, integer, boolean, integer, jsonb)', 'execute'),
  'clients cannot settle calls themselves');

select * from finish();
rollback;
