-- =============================================================================
-- api: the AI proxy's hot path (issue 5). A paid AI call makes exactly TWO round trips:
--
--   api.ai_begin   kill switch -> Idempotency-Key claim/replay -> rate limit -> price + bounds
--                  -> job checks (or account) -> reserve (job spend or one-shot charge)
--                  -> generation record (running)
--   ... upstream call ...
--   api.ai_settle  generation running -> final, exactly once: charge the usage (at most the
--                  reservation), give back the rest (job unspend or refund), give back the
--                  rate-limit token when the upstream failed, complete/abandon the
--                  Idempotency-Key, finish the record.
--
-- Refusals that are the caller's business (402, the job checks, model, per-model bounds) are
-- RETURNED (outcome 'refused', recorded as a refused generation, the claim released), so the
-- function still answers with the RateLimit headers. Kill switch (MAINTENANCE), RATE_LIMITED and
-- the idempotency conflicts RAISE (nothing is recorded or changed); functions/_shared/jobs
-- guardError maps the first two.
--
-- Reservation (credits taken before the upstream call):
--   one-shot (no job)         the call's maximum cost, charged at once (ledger 'charge').
--   job, not a chat stream    the maximum cost, spent from the job's remaining hold.
--   job, chat stream          min(maximum cost, remaining hold), at least the minimum cost
--                             (one output unit): the function meters the stream against it
--                             and ends the stream with INSUFFICIENT_CREDITS when it is used up.
-- The lock order is the ledger's: account first (one-shot), or the job alone (job path).
-- =============================================================================

create function api.ai_begin(
  p_account uuid,
  p_kind text,
  p_model text,
  p_streamed boolean,
  p_input_units bigint,
  p_output_units bigint,
  p_voice text,
  p_size text,
  p_quality text,
  p_job_id uuid,
  p_job_token_hash bytea,
  p_device_id text,
  p_rate_quota integer,
  p_rate_window_seconds integer,
  p_initial_grant integer,
  p_idempotency_key text,
  p_request_hash text,
  p_request_id text)
returns table (
  outcome text,
  generation_id uuid,
  reserved bigint,
  max_output_units bigint,
  size text,
  quality text,
  price_request_micro bigint,
  price_input_micro bigint,
  price_output_micro bigint,
  error_code text,
  error_message text,
  error_details jsonb,
  replay_status integer,
  replay_body jsonb,
  rate_limit_remaining integer,
  rate_limit_reset_seconds integer)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_price credits.ai_prices;
  v_job credits.jobs;
  v_account credits.accounts;
  v_idem record;
  v_rl_allowed boolean;
  v_rl_remaining integer;
  v_rl_reset integer;
  v_rl_retry integer;
  v_gen uuid := gen_random_uuid();
  v_code text;
  v_message text;
  v_details jsonb;
  v_req_micro bigint := 0;
  v_in_micro bigint := 0;
  v_out_micro bigint := 0;
  v_in_units bigint := greatest(coalesce(p_input_units, 0), 0);
  v_out_units bigint := 0;
  v_size text;
  v_quality text;
  v_per_image numeric;
  v_max_cost bigint;
  v_min_cost bigint;
  v_reserve bigint;
  v_remaining bigint;
begin
  -- Argument checks inline (no helper calls: this is the hot path).
  if p_account is null or p_kind is null or p_kind not in ('chat', 'speech', 'images')
     or p_model is null or length(p_model) not between 1 and 200 or p_streamed is null
     or v_in_units > 100000000 or p_output_units not between 0 and 100000000
     or (p_job_id is null) <> (p_job_token_hash is null)
     or octet_length(p_job_token_hash) <> 32
     or (p_rate_quota is null) <> (p_rate_window_seconds is null)
     or p_initial_grant is null or p_initial_grant not between 0 and 1000000
     or (p_idempotency_key is null) <> (p_request_hash is null) then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = 'ai_begin: account, kind (chat|speech|images), model (1..200), streamed, units (0..1e8), job id + 32-byte token hash together, rate quota + window together, initial grant 0..1e6, idempotency key + request hash together';
  end if;

  -- 1. Kill switch: raises MAINTENANCE before anything is touched.
  perform ops.require_flag('ai.' || p_kind);

  -- 2. Idempotency-Key: a finished call is replayed (no rate-limit token, no charge); a running
  --    one raises IDEMPOTENCY_KEY_IN_USE, another request with the key IDEMPOTENCY_KEY_REUSED.
  if p_idempotency_key is not null then
    select i.state, i.response_status, i.response_body into v_idem
      from api.idempotency_begin(p_account, p_idempotency_key, p_request_hash) i;
    if v_idem.state = 'replay' then
      return query select 'replay'::text, null::uuid, 0::bigint, null::bigint, null::text, null::text,
        0::bigint, 0::bigint, 0::bigint, null::text, null::text, null::jsonb,
        v_idem.response_status, v_idem.response_body, null::integer, null::integer;
      return;
    end if;
  end if;

  -- 3. Rate limit per account (null quota = limits off): raises RATE_LIMITED exactly as
  --    ops.rate_limit_require does (same detail JSON), which also rolls back the claim above.
  if p_rate_quota is not null then
    select r.allowed, r.remaining, r.reset_seconds, r.retry_after_seconds
      into v_rl_allowed, v_rl_remaining, v_rl_reset, v_rl_retry
      from ops.rate_limit_take(p_kind, 'account:' || p_account::text, p_rate_quota, p_rate_window_seconds) r;
    if not v_rl_allowed then
      raise exception using errcode = 'P0001', message = 'RATE_LIMITED',
        detail = pg_catalog.json_build_object(
          'policy', p_kind, 'quota', p_rate_quota, 'window', p_rate_window_seconds,
          'remaining', v_rl_remaining, 'reset', v_rl_reset, 'retry_after', v_rl_retry)::text,
        hint = 'Too many requests; retry after the number of seconds in retry_after.';
    end if;
  end if;

  <<checks>>
  begin
    -- 4. Price and the per-model bounds.
    select p.* into v_price from credits.ai_prices p
     where p.model = p_model and p.kind = p_kind and p.enabled;
    if not found then
      v_code := 'MODEL_NOT_ALLOWED';
      v_message := format('This model is not available for %s', p_kind);
      v_details := pg_catalog.jsonb_build_object('model', p_model, 'kind', p_kind);
      exit checks;
    end if;
    v_req_micro := (v_price.credits_per_request * 1000000)::bigint;

    if p_kind = 'chat' then
      v_in_micro := (v_price.credits_per_1k_input_tokens * 1000)::bigint;
      v_out_micro := (v_price.credits_per_1k_output_tokens * 1000)::bigint;
      if p_output_units > v_price.max_output_tokens then
        v_code := 'VALIDATION_FAILED';
        v_message := format('max_tokens may be at most %s for this model', v_price.max_output_tokens);
        v_details := pg_catalog.jsonb_build_object('reason', 'max_tokens_above_cap',
          'fields', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
            'path', 'max_tokens', 'message', format('Must be at most %s', v_price.max_output_tokens))),
          'maxTokens', v_price.max_output_tokens);
        exit checks;
      end if;
      v_out_units := coalesce(nullif(p_output_units, 0), v_price.max_output_tokens);
    elsif p_kind = 'speech' then
      v_in_micro := (v_price.credits_per_1k_chars * 1000)::bigint;
      if p_voice is null or not (p_voice = any (v_price.voices)) then
        v_code := 'VALIDATION_FAILED';
        v_message := 'This voice is not available for this model';
        v_details := pg_catalog.jsonb_build_object('reason', 'voice_not_allowed',
          'fields', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
            'path', 'voice', 'message', 'Expected one of: ' || array_to_string(v_price.voices, ', '))),
          'voices', pg_catalog.to_jsonb(v_price.voices));
        exit checks;
      end if;
    else
      v_out_units := coalesce(p_output_units, 1);
      v_size := coalesce(p_size, v_price.default_size);
      v_quality := coalesce(p_quality, v_price.default_quality);
      if v_out_units < 1 or v_out_units > v_price.max_images then
        v_code := 'VALIDATION_FAILED';
        v_message := format('n must be 1..%s for this model', v_price.max_images);
        v_details := pg_catalog.jsonb_build_object('reason', 'too_many_images',
          'fields', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
            'path', 'n', 'message', format('Must be 1..%s', v_price.max_images))),
          'maxImages', v_price.max_images);
        exit checks;
      end if;
      select i.credits_per_image into v_per_image from credits.ai_image_prices i
       where i.model = p_model and i.size = v_size and i.quality = v_quality;
      if not found then
        v_code := 'VALIDATION_FAILED';
        v_message := 'This size and quality are not available for this model';
        v_details := pg_catalog.jsonb_build_object('reason', 'size_quality_not_allowed',
          'fields', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
            'path', 'size', 'message', 'Not available with this quality for this model')),
          'allowed', (select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('size', i.size, 'quality', i.quality)
                                                  order by i.quality, i.size)
                        from credits.ai_image_prices i where i.model = p_model));
        exit checks;
      end if;
      v_out_micro := (v_per_image * 1000000)::bigint;
    end if;

    v_max_cost := credits.ai_cost(v_req_micro, v_in_micro, v_in_units, v_out_micro, v_out_units);
    v_min_cost := case when p_kind = 'chat'
                       then credits.ai_cost(v_req_micro, v_in_micro, v_in_units, v_out_micro, least(v_out_units, 1))
                       else v_max_cost end;

    -- 5. Who pays.
    if p_job_id is not null then
      select j.* into v_job from credits.jobs j
       where j.id = p_job_id and j.account_id = p_account
         for no key update;
      if not found then
        v_code := 'UNAUTHORIZED'; v_message := 'No such job for this account';
        v_details := pg_catalog.jsonb_build_object('reason', 'job_not_found');
        exit checks;
      end if;
      -- The token first: without it, nothing about the job (state, device) is revealed.
      if extensions.digest(v_job.token_hash, 'sha256') <> extensions.digest(p_job_token_hash, 'sha256') then
        v_code := 'UNAUTHORIZED'; v_message := 'The job token does not match';
        v_details := pg_catalog.jsonb_build_object('reason', 'job_token_invalid');
        exit checks;
      end if;
      if v_job.device_id is not null and p_device_id is distinct from v_job.device_id then
        v_code := 'UNAUTHORIZED'; v_message := 'The job is bound to another device (X-Device-Id)';
        v_details := pg_catalog.jsonb_build_object('reason', 'job_device_mismatch');
        exit checks;
      end if;
      if v_job.status = 'expired' or (v_job.status = 'pending' and v_job.expires_at <= now()) then
        v_code := 'UNAUTHORIZED'; v_message := 'The job has expired';
        v_details := pg_catalog.jsonb_build_object('reason', 'job_expired');
        exit checks;
      end if;
      if v_job.status <> 'pending' then
        v_code := 'UNAUTHORIZED'; v_message := format('The job is %s', v_job.status);
        v_details := pg_catalog.jsonb_build_object('reason', 'job_not_pending', 'status', v_job.status);
        exit checks;
      end if;
      v_remaining := v_job.amount - v_job.spent;
      if p_streamed and p_kind = 'chat' then
        v_reserve := least(v_max_cost, v_remaining);
        if v_remaining < v_min_cost then
          v_code := 'INSUFFICIENT_CREDITS';
          v_message := format('The job has %s credits left; this stream needs at least %s', v_remaining, v_min_cost);
          v_details := pg_catalog.jsonb_build_object('remaining', v_remaining, 'required', v_min_cost);
          exit checks;
        end if;
      else
        v_reserve := v_max_cost;
        if v_remaining < v_max_cost then
          v_code := 'INSUFFICIENT_CREDITS';
          v_message := format('The job has %s credits left; this call may cost up to %s', v_remaining, v_max_cost);
          v_details := pg_catalog.jsonb_build_object('remaining', v_remaining, 'required', v_max_cost);
          exit checks;
        end if;
      end if;
    else
      if not exists (select 1 from credits.accounts a where a.id = p_account) then
        perform api.ensure_account(p_account, p_initial_grant);
      end if;
      v_account := credits.lock_account(p_account);
      v_reserve := v_max_cost;
      if v_account.balance - v_account.held < v_max_cost then
        v_code := 'INSUFFICIENT_CREDITS';
        v_message := format('Available %s credits; this call may cost up to %s', v_account.balance - v_account.held, v_max_cost);
        v_details := pg_catalog.jsonb_build_object('available', v_account.balance - v_account.held, 'required', v_max_cost);
        exit checks;
      end if;
    end if;
  end checks;

  if v_code is not null then
    -- Refused before the upstream: recorded, nothing reserved, the key released for a retry.
    insert into credits.ai_generations (id, account_id, job_id, kind, model, streamed, status, error_code,
                                        credits_reserved, credits_charged, rate_limit_policy,
                                        idempotency_key, request_id, finished_at)
    values (v_gen, p_account, p_job_id, p_kind, p_model, p_streamed, 'refused', v_code, 0, 0,
            case when p_rate_quota is null then null else p_kind end,
            p_idempotency_key, p_request_id, now());
    if p_idempotency_key is not null then
      perform api.idempotency_abandon(p_account, p_idempotency_key);
    end if;
    return query select 'refused'::text, v_gen, 0::bigint, null::bigint, null::text, null::text,
      v_req_micro, v_in_micro, v_out_micro, v_code, v_message, v_details, null::integer, null::jsonb,
      v_rl_remaining, v_rl_reset;
    return;
  end if;

  -- 6. Reserve, then record. The reference of the spend / charge is the generation id.
  if v_reserve > 0 then
    if p_job_id is not null then
      -- What api.spend_on_job does, inline: the job row lock is already ours and every check
      -- (token, device, pending, unexpired, remaining) passed under it. job_spends' primary key
      -- and jobs_spent_within_amount stay the backstops.
      insert into credits.job_spends (job_id, reference, amount) values (p_job_id, v_gen::text, v_reserve);
      update credits.jobs j set spent = j.spent + v_reserve where j.id = p_job_id;
    else
      perform api.charge(p_account, v_reserve, 'ai:' || v_gen::text);
    end if;
  end if;
  insert into credits.ai_generations (id, account_id, job_id, kind, model, streamed, status,
                                      credits_reserved, price_request_micro, price_input_micro,
                                      price_output_micro, rate_limit_policy, idempotency_key, request_id)
  values (v_gen, p_account, p_job_id, p_kind, p_model, p_streamed, 'running', v_reserve,
          v_req_micro, v_in_micro, v_out_micro,
          case when p_rate_quota is null then null else p_kind end, p_idempotency_key, p_request_id);

  return query select 'started'::text, v_gen, v_reserve, v_out_units, v_size, v_quality,
    v_req_micro, v_in_micro, v_out_micro, null::text, null::text, null::jsonb, null::integer, null::jsonb,
    v_rl_remaining, v_rl_reset;
end
$$;
comment on function api.ai_begin(uuid, text, text, boolean, bigint, bigint, text, text, text, uuid, bytea, text, integer, integer, integer, text, text, text) is
  'First round trip of a paid AI call: kill switch ai.<kind> (raises MAINTENANCE), Idempotency-Key claim (outcome replay with the stored response; raises IDEMPOTENCY_KEY_IN_USE / _REUSED), rate limit <kind> per account (raises RATE_LIMITED; null quota skips), price and per-model bounds, job checks (pending, unexpired, token, device) or account, then the reservation (job spend or one-shot charge of the maximum cost; a job-paid chat stream reserves min(max, remaining)) and a running generation record. Business refusals (MODEL_NOT_ALLOWED, VALIDATION_FAILED, UNAUTHORIZED with details.reason job_*, INSUFFICIENT_CREDITS) are returned as outcome refused and recorded. Inputs: chat input_units = upper bound of prompt tokens, output_units = requested max tokens (null/0 = the model cap); speech input_units = characters; images output_units = n.';

create function api.ai_settle(
  p_account uuid,
  p_generation_id uuid,
  p_status text,
  p_error_code text,
  p_input_units bigint,
  p_output_units bigint,
  p_usage_source text,
  p_upstream_status integer,
  p_attempts integer,
  p_latency_ms integer,
  p_duration_ms integer,
  p_give_back_rate_limit boolean,
  p_response_status integer default null,
  p_response jsonb default null)
returns table (applied boolean, status text, reserved bigint, charged bigint, refunded bigint)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_gen credits.ai_generations;
  v_job_status text;
  v_charged bigint;
  v_refund bigint;
begin
  if p_status is null or p_status not in ('succeeded', 'partial', 'failed')
     or p_error_code !~ '^[A-Z][A-Z0-9_]{0,63}$'
     or p_usage_source not in ('upstream', 'estimated')
     or (p_response is not null and (p_response_status is null or p_response_status not between 100 and 599)) then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = 'ai_settle: status succeeded|partial|failed, error code upper-case, usage source upstream|estimated, a stored response needs a status 100..599';
  end if;

  -- The exactly-once gate: the generation row lock, then running -> final.
  select g.* into v_gen from credits.ai_generations g
   where g.id = p_generation_id and g.account_id = p_account
     for update;
  if not found then
    raise exception using errcode = 'P0001', message = 'NOT_FOUND', detail = 'GENERATION_NOT_FOUND';
  end if;
  if v_gen.status <> 'running' then
    return query select false, v_gen.status, v_gen.credits_reserved, v_gen.credits_charged,
                        v_gen.credits_reserved - v_gen.credits_charged;
    return;
  end if;

  v_charged := case when p_status = 'failed' then 0
                    else least(v_gen.credits_reserved,
                               credits.ai_cost(v_gen.price_request_micro, v_gen.price_input_micro, p_input_units,
                                               v_gen.price_output_micro, p_output_units)) end;
  v_refund := v_gen.credits_reserved - v_charged;

  if v_refund > 0 then
    if v_gen.job_id is not null then
      select j.status into v_job_status from credits.jobs j where j.id = v_gen.job_id for no key update;
      if v_job_status = 'pending' then
        -- What api.unspend_on_job does, inline, under the job lock just taken: the spend of this
        -- generation gives back v_refund, once (unspent_at is null), and so does the job.
        update credits.job_spends s set unspent = v_refund, unspent_at = now()
         where s.job_id = v_gen.job_id and s.reference = v_gen.id::text and s.unspent_at is null;
        if found then
          update credits.jobs j set spent = j.spent - v_refund where j.id = v_gen.job_id;
        end if;
      else
        -- The job was committed, cancelled or expired while the call ran: its settlement debited
        -- everything spent, the reservation included. Record what was really paid.
        v_charged := v_gen.credits_reserved;
        v_refund := 0;
      end if;
    else
      perform api.refund(p_account, 'ai:' || v_gen.id::text, v_refund);
    end if;
  end if;

  if p_give_back_rate_limit and v_gen.rate_limit_policy is not null then
    perform ops.rate_limit_refund(v_gen.rate_limit_policy, 'account:' || p_account::text, 1);
  end if;

  if v_gen.idempotency_key is not null then
    if p_response is not null and p_status <> 'failed' then
      perform api.idempotency_complete(p_account, v_gen.idempotency_key, p_response_status, p_response);
    else
      perform api.idempotency_abandon(p_account, v_gen.idempotency_key);
    end if;
  end if;

  update credits.ai_generations g
     set status = p_status,
         error_code = p_error_code,
         credits_charged = v_charged,
         input_units = p_input_units,
         output_units = p_output_units,
         usage_source = p_usage_source,
         upstream_status = p_upstream_status,
         attempts = p_attempts,
         latency_ms = p_latency_ms,
         duration_ms = p_duration_ms,
         finished_at = now()
   where g.id = v_gen.id;

  return query select true, p_status, v_gen.credits_reserved, v_charged, v_refund;
end
$$;
comment on function api.ai_settle(uuid, uuid, text, text, bigint, bigint, text, integer, integer, integer, integer, boolean, integer, jsonb) is
  'Second round trip of a paid AI call: settles the generation exactly once (its row lock; running -> p_status). succeeded | partial: charge the cost of p_input_units / p_output_units at the frozen prices, capped at the reservation; failed: charge nothing. The rest goes back once (job: unspend while the job is pending — if the job settled first, its debit kept the reservation and the record says so; one-shot: refund). p_give_back_rate_limit returns the rate-limit token (upstream failures); p_response (+ status) is stored for Idempotency-Key replays, otherwise the key is released. Repeats return applied = false. NOT_FOUND/GENERATION_NOT_FOUND for another account''s or a missing generation.';

create function api.ai_settle_stale(p_older_than_seconds integer default 600)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row record;
  v_count integer := 0;
begin
  perform credits.require(p_older_than_seconds between 60 and 86400, 'older than must be 60..86400 seconds');
  for v_row in
    select g.id, g.account_id from credits.ai_generations g
     where g.status = 'running' and g.created_at <= now() - make_interval(secs => p_older_than_seconds)
     order by g.created_at
     limit 1000
       for update skip locked
  loop
    perform api.ai_settle(v_row.account_id, v_row.id, 'failed', 'STALE', null, null, null,
                          null, null, null, null, false);
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$$;
comment on function api.ai_settle_stale(integer) is
  'Settles generations still running after p_older_than_seconds (the function died mid-call) as failed with error STALE: everything reserved is given back once and the Idempotency-Key released. Returns how many. pg_cron tollgate-ai-settle-stale runs it every minute with 600 s (calls are capped well below that).';

revoke all on function
  api.ai_begin(uuid, text, text, boolean, bigint, bigint, text, text, text, uuid, bytea, text, integer, integer, integer, text, text, text),
  api.ai_settle(uuid, uuid, text, text, bigint, bigint, text, integer, integer, integer, integer, boolean, integer, jsonb),
  api.ai_settle_stale(integer)
from public, anon, authenticated;
grant execute on function
  api.ai_begin(uuid, text, text, boolean, bigint, bigint, text, text, text, uuid, bytea, text, integer, integer, integer, text, text, text),
  api.ai_settle(uuid, uuid, text, text, bigint, bigint, text, integer, integer, integer, integer, boolean, integer, jsonb),
  api.ai_settle_stale(integer)
to tollgate_api;

-- Swept every minute as 'tollgate-ai-settle-stale' (20261124000590_cron_schedules.sql).
