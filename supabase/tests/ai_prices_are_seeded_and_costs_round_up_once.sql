-- AI prices: seeded per model, listed for GET /ai/v1/models, editable by api.ai_price_set with
-- consistent shapes per kind; a call's cost is rounded up once from integer micro-credits.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(17);

select results_eq($$select model, kind from credits.ai_prices where updated_by = 'migration' order by model$$,
  $$values ('dall-e-3', 'images'), ('gpt-4.1-mini', 'chat'), ('gpt-4o', 'chat'), ('gpt-4o-mini', 'chat'),
           ('gpt-4o-mini-tts', 'speech'), ('gpt-image-1', 'images'), ('tts-1', 'speech')$$,
  'chat, speech and image models are seeded');
select is((select count(*) from credits.ai_image_prices where model = 'dall-e-3'), 6::bigint,
  'dall-e-3 has a price per size and quality');
select is((select voices from credits.ai_prices where model = 'tts-1') @> array['alloy', 'nova'], true,
  'speech models carry their voice allow-list');

select is(credits.ai_cost(1000000, 300, 100, 1200, 4096), 6::bigint,
  'gpt-4o-mini, 100 prompt + 4096 completion tokens: ceil(1 + 0.03 + 4.9152) = 6');
select is(credits.ai_cost(2000000, 0, 0, 0, 0), 2::bigint, 'a whole number of credits is not rounded up');
select is(credits.ai_cost(0, 1, 1, 0, 0), 1::bigint, 'one micro-credit is rounded up to a credit');
select is(credits.ai_cost(0, 1000, null, 1000, -5), 0::bigint, 'missing or negative units count as zero');

select results_eq($$select jsonb_array_length(image_prices), max_images from api.ai_models() where model = 'dall-e-3'$$,
  $$values (6, 1)$$, 'api.ai_models lists image prices with the model');
select is((select image_prices from api.ai_models() where model = 'gpt-4o-mini'), null,
  'chat models have no image prices');

select results_eq($$select model, kind, enabled from api.ai_price_set('tap-chat', 'chat', true, 'tester',
                      p_credits_per_request => 2, p_credits_per_1k_input_tokens => 1000,
                      p_credits_per_1k_output_tokens => 2000, p_max_output_tokens => 50)$$,
  $$values ('tap-chat'::text, 'chat'::text, true)$$, 'an admin can add a chat model');
select results_eq($$select credits_per_request, max_output_tokens, updated_by from credits.ai_prices where model = 'tap-chat'$$,
  $$values (2::numeric, 50, 'tester'::text)$$, 'with its prices and cap');
select lives_ok($$select api.ai_price_set('tap-chat', 'chat', false, 'tester', p_max_output_tokens => 10)$$,
  'and change or disable it later');
select throws_ok($$select api.ai_price_set('tap-bad', 'chat', true, 'tester')$$,
  'P0001', 'VALIDATION_FAILED', 'a chat model needs a max_tokens cap (a broken table rule is a 400)');
select throws_ok($$select api.ai_price_set('tap-pic', 'images', true, 'tester', p_max_images => 2,
                      p_default_size => '1024x1024', p_default_quality => 'standard',
                      p_image_prices => '[{"size":"1024x1792","quality":"standard","credits_per_image":5}]')$$,
  'P0001', 'VALIDATION_FAILED', 'image prices must cover the default size and quality');
select throws_ok($$select api.ai_price_set('tap-voice', 'speech', true, '')$$,
  'P0001', 'VALIDATION_FAILED', 'an actor is required');

select ok(has_function_privilege('tollgate_api', 'api.ai_models()', 'execute')
          and not has_function_privilege('authenticated', 'api.ai_models()', 'execute'),
  'only the function role may call the price functions');
select ok(not has_table_privilege('authenticated', 'credits.ai_prices', 'select')
          and not has_table_privilege('tollgate_api', 'credits.ai_prices', 'select'),
  'nobody reads the price tables directly');

select * from finish();
rollback;
