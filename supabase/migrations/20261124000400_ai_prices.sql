-- =============================================================================
-- AI prices (issue 5): what each allowed model costs in credits. A model without an enabled row
-- here is refused with 400 MODEL_NOT_ALLOWED. Seeded below; editable by the admin API
-- (api.ai_price_set) or plain SQL; changes apply to the next call (a running call keeps the
-- prices it started with: they are frozen into its credits.ai_generations row).
--
-- PRICING MODEL (credits are integers; prices may have fractions, the total is rounded UP once):
--   chat    credits = ceil(per_request + prompt_tokens/1000 * per_1k_input_tokens
--                                      + completion_tokens/1000 * per_1k_output_tokens)
--   speech  credits = ceil(per_request + characters/1000 * per_1k_chars)
--   images  credits = ceil(per_request + n * credits_per_image(model, size, quality))
-- Internally every price becomes integer micro-credits per unit (token, character, image), so
-- SQL (numeric) and the function's stream meter (integers) compute identical totals.
-- =============================================================================

create table credits.ai_prices (
  model                        text primary key,
  kind                         text not null,
  enabled                      boolean not null default true,
  credits_per_request          numeric(14, 6) not null default 0,
  credits_per_1k_input_tokens  numeric(14, 3) not null default 0,
  credits_per_1k_output_tokens numeric(14, 3) not null default 0,
  credits_per_1k_chars         numeric(14, 3) not null default 0,
  max_output_tokens            integer,
  voices                       text[],
  max_images                   integer,
  default_size                 text,
  default_quality              text,
  updated_at                   timestamptz not null default now(),
  updated_by                   text,
  constraint ai_prices_model_format check (model ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$'),
  constraint ai_prices_kind_known check (kind in ('chat', 'speech', 'images')),
  constraint ai_prices_nonnegative check (
    credits_per_request >= 0 and credits_per_1k_input_tokens >= 0
    and credits_per_1k_output_tokens >= 0 and credits_per_1k_chars >= 0),
  constraint ai_prices_chat_shape check (kind <> 'chat' or (
    coalesce(max_output_tokens between 1 and 200000, false) and voices is null and max_images is null
    and credits_per_1k_chars = 0)),
  constraint ai_prices_speech_shape check (kind <> 'speech' or (
    coalesce(cardinality(voices) between 1 and 64, false) and max_output_tokens is null and max_images is null
    and credits_per_1k_input_tokens = 0 and credits_per_1k_output_tokens = 0)),
  constraint ai_prices_images_shape check (kind <> 'images' or (
    coalesce(max_images between 1 and 4, false) and default_size is not null and default_quality is not null
    and voices is null and max_output_tokens is null
    and credits_per_1k_input_tokens = 0 and credits_per_1k_output_tokens = 0
    and credits_per_1k_chars = 0)),
  constraint ai_prices_updated_by_length check (updated_by is null or length(updated_by) between 1 and 200)
);
comment on table credits.ai_prices is
  'One row per model the AI proxy allows (kind chat | speech | images) and its price in credits. No enabled row = 400 MODEL_NOT_ALLOWED. Image prices per size and quality live in credits.ai_image_prices.';
comment on column credits.ai_prices.model is 'Model id exactly as sent to the provider (e.g. gpt-4o-mini).';
comment on column credits.ai_prices.kind is 'Route family: chat (/v1/chat/completions), speech (/v1/audio/speech), images (/v1/images/generations).';
comment on column credits.ai_prices.enabled is 'false hides the model (MODEL_NOT_ALLOWED) without losing its prices.';
comment on column credits.ai_prices.credits_per_request is 'Flat fee per call (all kinds).';
comment on column credits.ai_prices.credits_per_1k_input_tokens is 'chat: credits per 1000 prompt tokens.';
comment on column credits.ai_prices.credits_per_1k_output_tokens is 'chat: credits per 1000 completion tokens.';
comment on column credits.ai_prices.credits_per_1k_chars is 'speech: credits per 1000 input characters.';
comment on column credits.ai_prices.max_output_tokens is 'chat: cap on max_tokens / max_completion_tokens; also the default sent upstream when the client sends none.';
comment on column credits.ai_prices.voices is 'speech: the voices allowed for this model.';
comment on column credits.ai_prices.max_images is 'images: largest n per call (1..4).';
comment on column credits.ai_prices.default_size is 'images: size used (and charged) when the client sends none.';
comment on column credits.ai_prices.default_quality is 'images: quality used (and charged) when the client sends none.';
comment on column credits.ai_prices.updated_at is 'Last change (set by api.ai_price_set; plain-SQL edits should set it too).';
comment on column credits.ai_prices.updated_by is 'Who made the last change (admin actor, migration).';

create table credits.ai_image_prices (
  model              text not null references credits.ai_prices (model) on delete cascade,
  size               text not null,
  quality            text not null,
  credits_per_image  numeric(14, 6) not null,
  primary key (model, size, quality),
  constraint ai_image_prices_size_format check (size ~ '^[0-9]{3,4}x[0-9]{3,4}$'),
  constraint ai_image_prices_quality_format check (quality ~ '^[a-z]{1,16}$'),
  constraint ai_image_prices_positive check (credits_per_image > 0)
);
comment on table credits.ai_image_prices is
  'Image prices: credits per generated image for each allowed (model, size, quality). A combination without a row is refused (400 VALIDATION_FAILED).';
comment on column credits.ai_image_prices.size is 'WIDTHxHEIGHT as the provider names it, e.g. 1024x1024.';
comment on column credits.ai_image_prices.quality is 'Provider quality name: standard | hd (dall-e-3), low | medium | high (gpt-image-1).';
comment on column credits.ai_image_prices.credits_per_image is 'Credits per image of this size and quality.';

alter table credits.ai_prices enable row level security;
alter table credits.ai_image_prices enable row level security;
revoke all on credits.ai_prices, credits.ai_image_prices from public, anon, authenticated, service_role, tollgate_api;

-- Seed prices (1 credit ~ US$0.001 with a margin; adjust with api.ai_price_set).
insert into credits.ai_prices
  (model, kind, credits_per_request, credits_per_1k_input_tokens, credits_per_1k_output_tokens,
   credits_per_1k_chars, max_output_tokens, voices, max_images, default_size, default_quality, updated_by)
values
  ('gpt-4o-mini',     'chat',   1, 0.3, 1.2, 0, 4096, null, null, null, null, 'migration'),
  ('gpt-4.1-mini',    'chat',   1, 0.8, 3.2, 0, 8192, null, null, null, null, 'migration'),
  ('gpt-4o',          'chat',   2, 5,   20,  0, 4096, null, null, null, null, 'migration'),
  ('tts-1',           'speech', 1, 0, 0, 30, null,
     array['alloy', 'ash', 'coral', 'echo', 'fable', 'nova', 'onyx', 'sage', 'shimmer'], null, null, null, 'migration'),
  ('gpt-4o-mini-tts', 'speech', 1, 0, 0, 24, null,
     array['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable', 'nova', 'onyx', 'sage', 'shimmer', 'verse'], null, null, null, 'migration'),
  ('dall-e-3',        'images', 0, 0, 0, 0, null, null, 1, '1024x1024', 'standard', 'migration'),
  ('gpt-image-1',     'images', 0, 0, 0, 0, null, null, 4, '1024x1024', 'medium', 'migration')
on conflict (model) do nothing;

insert into credits.ai_image_prices (model, size, quality, credits_per_image) values
  ('dall-e-3', '1024x1024', 'standard', 80), ('dall-e-3', '1024x1792', 'standard', 160),
  ('dall-e-3', '1792x1024', 'standard', 160), ('dall-e-3', '1024x1024', 'hd', 160),
  ('dall-e-3', '1024x1792', 'hd', 240), ('dall-e-3', '1792x1024', 'hd', 240),
  ('gpt-image-1', '1024x1024', 'low', 22), ('gpt-image-1', '1024x1536', 'low', 33),
  ('gpt-image-1', '1536x1024', 'low', 33), ('gpt-image-1', '1024x1024', 'medium', 84),
  ('gpt-image-1', '1024x1536', 'medium', 126), ('gpt-image-1', '1536x1024', 'medium', 126),
  ('gpt-image-1', '1024x1024', 'high', 334), ('gpt-image-1', '1024x1536', 'high', 500),
  ('gpt-image-1', '1536x1024', 'high', 500)
on conflict (model, size, quality) do nothing;

-- Cost in credits from integer micro-credit prices per unit: ceil(total micro-credits / 1e6).
-- No SET clause and no definer rights on purpose (inlinable, like credits.ledger_row_hash).
create function credits.ai_cost(
  p_request_micro bigint, p_input_micro bigint, p_input_units bigint,
  p_output_micro bigint, p_output_units bigint)
returns bigint
language sql immutable parallel safe
as $$
  select ceil((p_request_micro::numeric
               + p_input_micro::numeric * greatest(coalesce(p_input_units, 0), 0)
               + p_output_micro::numeric * greatest(coalesce(p_output_units, 0), 0)) / 1000000)::bigint
$$;
comment on function credits.ai_cost(bigint, bigint, bigint, bigint, bigint) is
  'Credits for a call: ceil((request + input_micro * input_units + output_micro * output_units) / 1e6), prices in integer micro-credits per unit. The ai function''s stream meter computes the same integers.';

-- api.ai_models: the allowed models and their prices (GET /ai/v1/models, admin GET /admin/prices).
create function api.ai_models()
returns table (
  model text, kind text, enabled boolean, credits_per_request numeric, credits_per_1k_input_tokens numeric,
  credits_per_1k_output_tokens numeric, credits_per_1k_chars numeric, max_output_tokens integer,
  voices text[], max_images integer, default_size text, default_quality text, image_prices jsonb,
  updated_at timestamptz, updated_by text)
language sql
stable
security definer
set search_path = ''
as $$
  select p.model, p.kind, p.enabled, p.credits_per_request, p.credits_per_1k_input_tokens,
         p.credits_per_1k_output_tokens, p.credits_per_1k_chars, p.max_output_tokens, p.voices,
         p.max_images, p.default_size, p.default_quality,
         case when p.kind = 'images' then coalesce((
           select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                    'size', i.size, 'quality', i.quality, 'credits_per_image', i.credits_per_image)
                  order by i.quality, i.size)
             from credits.ai_image_prices i where i.model = p.model), '[]'::jsonb)
         end,
         p.updated_at, p.updated_by
    from credits.ai_prices p
   order by p.kind, p.model
$$;
comment on function api.ai_models() is
  'Every priced model (enabled or not) with its prices; image models carry image_prices [{size, quality, credits_per_image}]. The ai function lists the enabled ones at GET /ai/v1/models.';

-- api.ai_price_set: create or replace one model's prices (for the admin API).
create function api.ai_price_set(
  p_model text, p_kind text, p_enabled boolean, p_actor text,
  p_credits_per_request numeric default 0,
  p_credits_per_1k_input_tokens numeric default 0,
  p_credits_per_1k_output_tokens numeric default 0,
  p_credits_per_1k_chars numeric default 0,
  p_max_output_tokens integer default null,
  p_voices text[] default null,
  p_max_images integer default null,
  p_default_size text default null,
  p_default_quality text default null,
  p_image_prices jsonb default null)
returns table (model text, kind text, enabled boolean, updated_at timestamptz)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_item jsonb;
  v_constraint text;
  v_column text;
begin
  perform credits.require(p_actor is not null and length(btrim(p_actor)) between 1 and 200, 'actor must be 1..200 characters');
  perform credits.require(p_enabled is not null, 'enabled must be true or false');
  perform credits.require(p_kind <> 'images' or pg_catalog.jsonb_typeof(p_image_prices) = 'array',
                          'image models need image_prices [{size, quality, credits_per_image}]');
  perform credits.require(p_kind = 'images' or p_image_prices is null, 'only image models have image_prices');

  insert into credits.ai_prices as p
    (model, kind, enabled, credits_per_request, credits_per_1k_input_tokens, credits_per_1k_output_tokens,
     credits_per_1k_chars, max_output_tokens, voices, max_images, default_size, default_quality,
     updated_at, updated_by)
  values
    (p_model, p_kind, p_enabled, p_credits_per_request, p_credits_per_1k_input_tokens,
     p_credits_per_1k_output_tokens, p_credits_per_1k_chars, p_max_output_tokens, p_voices, p_max_images,
     p_default_size, p_default_quality, now(), btrim(p_actor))
  on conflict on constraint ai_prices_pkey do update
    set kind = excluded.kind, enabled = excluded.enabled,
        credits_per_request = excluded.credits_per_request,
        credits_per_1k_input_tokens = excluded.credits_per_1k_input_tokens,
        credits_per_1k_output_tokens = excluded.credits_per_1k_output_tokens,
        credits_per_1k_chars = excluded.credits_per_1k_chars,
        max_output_tokens = excluded.max_output_tokens, voices = excluded.voices,
        max_images = excluded.max_images, default_size = excluded.default_size,
        default_quality = excluded.default_quality, updated_at = now(), updated_by = excluded.updated_by;

  if p_kind = 'images' then
    delete from credits.ai_image_prices i where i.model = p_model;
    for v_item in select pg_catalog.jsonb_array_elements(p_image_prices) loop
      insert into credits.ai_image_prices (model, size, quality, credits_per_image)
      values (p_model, v_item ->> 'size', v_item ->> 'quality', (v_item ->> 'credits_per_image')::numeric);
    end loop;
    perform credits.require(exists (
      select 1 from credits.ai_image_prices i
       where i.model = p_model
         and i.size = (select p.default_size from credits.ai_prices p where p.model = p_model)
         and i.quality = (select p.default_quality from credits.ai_prices p where p.model = p_model)),
      'image_prices must include the default size and quality');
  end if;

  return query select p.model, p.kind, p.enabled, p.updated_at from credits.ai_prices p where p.model = p_model;
exception
  -- A price that breaks a rule of the prices table is the caller's mistake: 400 naming the rule.
  when check_violation or not_null_violation or foreign_key_violation
       or invalid_text_representation or numeric_value_out_of_range then
    get stacked diagnostics v_constraint = constraint_name, v_column = column_name;
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = pg_catalog.format('the price breaks rule %s',
                                 coalesce(nullif(v_constraint, ''), nullif(v_column, ''), 'of the prices table'));
end
$$;
comment on function api.ai_price_set(text, text, boolean, text, numeric, numeric, numeric, numeric, integer, text[], integer, text, text, jsonb) is
  'Creates or replaces the prices of one model (admin PUT /admin/prices); for image models p_image_prices replaces every (size, quality) price and must cover the defaults. A row that breaks a table rule is VALIDATION_FAILED naming the rule (e.g. ai_prices_chat_shape). Running calls keep the prices they started with.';

revoke all on function credits.ai_cost(bigint, bigint, bigint, bigint, bigint) from public, anon, authenticated;
revoke all on function api.ai_models(), api.ai_price_set(text, text, boolean, text, numeric, numeric, numeric, numeric, integer, text[], integer, text, text, jsonb)
  from public, anon, authenticated;
grant execute on function api.ai_models(), api.ai_price_set(text, text, boolean, text, numeric, numeric, numeric, numeric, integer, text[], integer, text, text, jsonb)
  to tollgate_api;
