-- Admin prices (issue 6, PUT /admin/prices). The prices table and its writer belong to the ai
-- function (20261124000400_ai_prices.sql: credits.ai_prices, api.ai_models, api.ai_price_set);
-- this wrapper only turns the table's constraint errors into VALIDATION_FAILED (400, naming the
-- violated rule) instead of a 500, so the admin API needs no copy of those rules.

create function api.admin_price_set(
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
  v_constraint text;
  v_column text;
begin
  return query
    select s.model, s.kind, s.enabled, s.updated_at
      from api.ai_price_set(p_model, p_kind, p_enabled, p_actor, p_credits_per_request,
                            p_credits_per_1k_input_tokens, p_credits_per_1k_output_tokens,
                            p_credits_per_1k_chars, p_max_output_tokens, p_voices, p_max_images,
                            p_default_size, p_default_quality, p_image_prices) s;
exception
  when check_violation or not_null_violation or foreign_key_violation
       or invalid_text_representation or numeric_value_out_of_range then
    get stacked diagnostics v_constraint = constraint_name, v_column = column_name;
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = pg_catalog.format('the price breaks rule %s',
                                 coalesce(nullif(v_constraint, ''), nullif(v_column, ''), 'of the prices table'));
end
$$;

comment on function api.admin_price_set(text, text, boolean, text, numeric, numeric, numeric, numeric, integer, text[], integer, text, text, jsonb) is
  'PUT /admin/prices: api.ai_price_set (create or replace one model''s prices) with the prices table''s constraint violations reported as VALIDATION_FAILED naming the rule (e.g. ai_prices_chat_shape) instead of INTERNAL. VALIDATION_FAILED from ai_price_set itself passes through.';

revoke all on function api.admin_price_set(text, text, boolean, text, numeric, numeric, numeric, numeric, integer, text[], integer, text, text, jsonb)
  from public, anon, authenticated;
grant execute on function api.admin_price_set(text, text, boolean, text, numeric, numeric, numeric, numeric, integer, text[], integer, text, text, jsonb)
  to tollgate_api;
