-- =============================================================================
-- AI generations (issue 5): one row per AI call that reached the database — what was asked,
-- how it was paid, what was reserved and charged, and what the upstream did. Written by
-- api.ai_begin (status running, or refused) and finished exactly once by api.ai_settle (or by
-- api.ai_settle_stale for calls whose function died). Read by stats and anomaly detection.
--
-- Status:
--   running    credits reserved, upstream call in flight
--   succeeded  the answer was delivered; charged = cost of the usage, at most the reservation
--   partial    a stream delivered part of its answer, then broke, was cut at the hold's end, or
--              the client left; charged = the delivered part (see readme-ai "Charging rules")
--   failed     nothing usable was delivered; everything reserved was refunded
--   refused    refused before the upstream (402, job 401, model not allowed, bounds); nothing reserved
-- =============================================================================

create table credits.ai_generations (
  id                  uuid primary key default gen_random_uuid(),
  account_id          uuid not null,
  job_id              uuid,
  kind                text not null,
  model               text not null,
  streamed            boolean not null default false,
  status              text not null,
  error_code          text,
  credits_reserved    bigint not null default 0,
  credits_charged     bigint,
  input_units         bigint,
  output_units        bigint,
  usage_source        text,
  price_request_micro bigint not null default 0,
  price_input_micro   bigint not null default 0,
  price_output_micro  bigint not null default 0,
  rate_limit_policy   text,
  upstream_status     integer,
  attempts            integer,
  latency_ms          integer,
  duration_ms         integer,
  idempotency_key     text,
  request_id          text,
  created_at          timestamptz not null default now(),
  finished_at         timestamptz,
  constraint ai_generations_kind_known check (kind in ('chat', 'speech', 'images')),
  constraint ai_generations_model_length check (length(model) between 1 and 200),
  constraint ai_generations_status_known check (status in ('running', 'succeeded', 'partial', 'failed', 'refused')),
  constraint ai_generations_finish_shape check (
    (status = 'running') = (finished_at is null) and (status = 'running') = (credits_charged is null)),
  constraint ai_generations_charge_range check (
    credits_reserved >= 0 and (credits_charged is null or credits_charged between 0 and credits_reserved)),
  constraint ai_generations_refused_reserve_nothing check (status <> 'refused' or credits_reserved = 0),
  constraint ai_generations_error_code_format check (error_code is null or error_code ~ '^[A-Z][A-Z0-9_]{0,63}$'),
  constraint ai_generations_usage_source_known check (usage_source is null or usage_source in ('upstream', 'estimated')),
  constraint ai_generations_units_nonnegative check (coalesce(input_units, 0) >= 0 and coalesce(output_units, 0) >= 0),
  constraint ai_generations_prices_nonnegative check (
    price_request_micro >= 0 and price_input_micro >= 0 and price_output_micro >= 0),
  constraint ai_generations_idempotency_key_length check (idempotency_key is null or length(idempotency_key) between 1 and 255),
  constraint ai_generations_request_id_length check (request_id is null or length(request_id) between 1 and 128)
);
comment on table credits.ai_generations is
  'One row per AI call that reached the database (api.ai_begin): who, which job, model and kind, status (running | succeeded | partial | failed | refused), credits reserved and charged, units used, upstream status, attempts and latency. Settled exactly once (running -> final) by api.ai_settle or api.ai_settle_stale.';
comment on column credits.ai_generations.id is 'Generation id; also the reference of the job spend (credits.job_spends.reference) or of the one-shot charge (''ai:<id>'').';
comment on column credits.ai_generations.account_id is 'The caller (JWT sub). No foreign key: refused calls of brand-new users are recorded too.';
comment on column credits.ai_generations.job_id is 'The job that paid (X-Job-Id), or null for a one-shot charge.';
comment on column credits.ai_generations.kind is 'chat | speech | images.';
comment on column credits.ai_generations.streamed is 'True for SSE chat streams and speech (audio streamed through).';
comment on column credits.ai_generations.status is 'running | succeeded | partial | failed | refused (see the migration header).';
comment on column credits.ai_generations.error_code is 'Why it failed, was refused or cut: an error code (BAD_GATEWAY, TIMEOUT, INSUFFICIENT_CREDITS, CLIENT_CLOSED, STALE, ...).';
comment on column credits.ai_generations.credits_reserved is 'Credits taken before the upstream call (job spend or one-shot charge).';
comment on column credits.ai_generations.credits_charged is 'Credits finally kept (0..reserved); the rest was given back exactly once. 0 for failed and refused calls — except when the paying job was committed, cancelled or expired before the call settled: the job''s settlement debited the whole reservation, and this column says so. Null while running.';
comment on column credits.ai_generations.input_units is 'chat: prompt tokens; speech: characters; images: 0 (reported by the upstream or estimated, see usage_source).';
comment on column credits.ai_generations.output_units is 'chat: completion tokens (delivered ones for partial streams); images: images; speech: 0.';
comment on column credits.ai_generations.usage_source is 'upstream = usage reported by the provider; estimated = counted by Tollgate (missing usage, partial streams).';
comment on column credits.ai_generations.price_request_micro is 'Frozen price: micro-credits per call.';
comment on column credits.ai_generations.price_input_micro is 'Frozen price: micro-credits per input unit.';
comment on column credits.ai_generations.price_output_micro is 'Frozen price: micro-credits per output unit.';
comment on column credits.ai_generations.rate_limit_policy is 'Rate-limit policy that admitted the call (null when limits are off); its token is given back when the upstream failed.';
comment on column credits.ai_generations.upstream_status is 'Last HTTP status from the provider (null when it never answered).';
comment on column credits.ai_generations.attempts is 'Upstream attempts made (retries included).';
comment on column credits.ai_generations.latency_ms is 'Milliseconds until the provider''s response headers (retries included).';
comment on column credits.ai_generations.duration_ms is 'Milliseconds from begin to settlement as measured by the function.';
comment on column credits.ai_generations.idempotency_key is 'Idempotency-Key of the request, if any.';
comment on column credits.ai_generations.request_id is 'X-Request-Id of the HTTP request (joins the function logs).';

create index ai_generations_account_created_idx on credits.ai_generations (account_id, created_at desc);
comment on index credits.ai_generations_account_created_idx is 'Per-account history and anomaly windows.';
-- BRIN, not btree: rows arrive in created_at order, and a BRIN index costs next to nothing per
-- insert (no hot rightmost btree page shared by every concurrent call) while still serving
-- time-window scans.
create index ai_generations_created_idx on credits.ai_generations using brin (created_at) with (autosummarize = on);
comment on index credits.ai_generations_created_idx is 'Stats and anomaly windows over all accounts (ops.generation_stats and friends); BRIN, cheap on the hot path.';
create index ai_generations_running_idx on credits.ai_generations (created_at) where status = 'running';
comment on index credits.ai_generations_running_idx is 'api.ai_settle_stale: finds calls that never settled.';

alter table credits.ai_generations enable row level security;
create policy ai_generations_select_own on credits.ai_generations
  for select to authenticated using (account_id = (select auth.uid()));
comment on policy ai_generations_select_own on credits.ai_generations is 'A signed-in client reads its own generation records.';
revoke all on credits.ai_generations from public, anon, authenticated, service_role, tollgate_api;
grant select on credits.ai_generations to authenticated;
