-- PUT /admin/prices goes through api.ai_price_set: a valid price is stored, and a price that
-- breaks a rule of the prices table is VALIDATION_FAILED naming the rule, never an internal error.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(5);

set local role tollgate_api;
select results_eq(
  $$select model, kind, enabled from api.ai_price_set('test-chat-model', 'chat', true, 'admin:current', 1, 0.5, 2, 0, 2048)$$,
  $$values ('test-chat-model'::text, 'chat'::text, true)$$, 'a valid chat price is stored');
select results_eq(
  $$select credits_per_1k_output_tokens::numeric, updated_by from api.ai_models() where model = 'test-chat-model'$$,
  $$values (2::numeric, 'admin:current'::text)$$, 'and listed with who set it');
select throws_ok(
  $$select * from api.ai_price_set('test-chat-model', 'chat', true, 'admin:current', 1, 0.5, 2, 7, 2048)$$,
  'P0001', 'VALIDATION_FAILED', 'a chat model priced per character breaks ai_prices_chat_shape: 400');
select throws_ok(
  $$select * from api.ai_price_set('bad model!', 'chat', true, 'admin:current', 1, 0, 0, 0, 100)$$,
  'P0001', 'VALIDATION_FAILED', 'a malformed model name: 400');
select throws_ok(
  $$select * from api.ai_price_set('test-img', 'images', true, 'admin:current', 0, 0, 0, 0, null, null, 2,
                                      '1024x1024', 'standard', '[{"size": "1024x1024", "quality": "standard", "credits_per_image": "x"}]')$$,
  'P0001', 'VALIDATION_FAILED', 'a non-numeric image price: 400');
reset role;

select * from finish();
rollback;
