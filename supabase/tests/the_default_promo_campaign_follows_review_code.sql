-- REVIEW_CODE keeps one default campaign (review-code, source env) in step: created on first
-- sync, untouched when nothing changed, re-keyed when the code or REVIEW_GRANT_AMOUNT changes
-- (same campaign, so earlier redeemers stay redeemed), switched off when REVIEW_CODE is unset.
-- Admin campaigns: name and code unique, never exposing a hash.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(17);

create function pg_temp.code(p_code text) returns bytea
language sql immutable as $$ select extensions.digest('tollgate-promo-v1:' || upper(btrim(p_code)), 'sha256') $$;

set local role tollgate_api;
select results_eq($$select enabled, changed from api.promo_sync_default_campaign(pg_temp.code('REVIEW-ONE'), 20)$$,
  $$values (true, true)$$, 'the first sync creates the default campaign');
select results_eq($$select enabled, changed from api.promo_sync_default_campaign(pg_temp.code('REVIEW-ONE'), 20)$$,
  $$values (true, false)$$, 'a repeated sync changes nothing');
select results_eq($$select name, credits_per_redemption, source, active, created_by from api.promo_campaigns_list()$$,
  $$values ('review-code'::text, 20::bigint, 'env'::text, true, 'env:REVIEW_CODE'::text)$$,
  'it is listed as review-code, 20 credits (REVIEW_GRANT_AMOUNT), source env, without its hash');
reset role;
select is((select code_hash from credits.promo_campaigns where source = 'env'), pg_temp.code('REVIEW-ONE'),
  'it stores the hash of REVIEW_CODE');

select results_eq($$select outcome from api.promo_redeem('d1000000-0000-0000-0000-000000000001', 'dev-d1', pg_temp.code('review-one'), 3, null, null)$$,
  $$values ('redeemed'::text)$$, 'REVIEW_CODE redeems');

select results_eq($$select changed from api.promo_sync_default_campaign(pg_temp.code('REVIEW-TWO'), 30)$$,
  $$values (true)$$, 'a new REVIEW_CODE or amount updates the campaign');
select is((select count(*) from credits.promo_campaigns where source = 'env'), 1::bigint, 'still one default campaign');
select results_eq($$select outcome from api.promo_redeem('d1000000-0000-0000-0000-000000000002', 'dev-d2', pg_temp.code('REVIEW-ONE'), 3, null, null)$$,
  $$values ('invalid_code'::text)$$, 'the old code no longer works');
select results_eq($$select outcome, amount from api.promo_redeem('d1000000-0000-0000-0000-000000000002', 'dev-d2', pg_temp.code('REVIEW-TWO'), 3, null, null)$$,
  $$values ('redeemed'::text, 30::bigint)$$, 'the new code grants the new amount');
select results_eq($$select outcome, reason from api.promo_redeem('d1000000-0000-0000-0000-000000000001', 'dev-d1', pg_temp.code('REVIEW-TWO'), 3, null, null)$$,
  $$values ('already_redeemed'::text, 'account'::text)$$, 'an account that redeemed the old code cannot redeem the new one');

select results_eq($$select enabled, changed from api.promo_sync_default_campaign(null, 20)$$,
  $$values (false, true)$$, 'REVIEW_CODE unset switches the default campaign off');
select results_eq($$select outcome, reason from api.promo_redeem('d1000000-0000-0000-0000-000000000003', 'dev-d3', pg_temp.code('REVIEW-TWO'), 3, null, null)$$,
  $$values ('not_active'::text, 'disabled'::text)$$, 'its code is then not active');

-- admin campaigns
select lives_ok($$select api.promo_campaign_create('admin-one', pg_temp.code('ADMIN-ONE'), 5, 10, null, null, true, 'admin:current')$$,
  'an admin campaign is created');
select throws_ok($$select api.promo_campaign_create('admin-one', pg_temp.code('ADMIN-OTHER'), 5, null, null, null, true, 'admin:current')$$,
  'P0001', 'CONFLICT', 'a taken name is a conflict');
select throws_ok($$select api.promo_campaign_create('admin-two', pg_temp.code('admin-one'), 5, null, null, null, true, 'admin:current')$$,
  'P0001', 'CONFLICT', 'a taken code is a conflict (codes are case-insensitive)');
select throws_ok($$select api.promo_campaign_create('review-code', pg_temp.code('ANOTHER-CODE'), 5, null, null, null, true, 'admin:current')$$,
  'P0001', 'VALIDATION_FAILED', 'review-code is reserved');
select throws_ok($$select api.promo_sync_default_campaign(pg_temp.code('ADMIN-ONE'), 20)$$,
  'P0001', 'CONFLICT', 'REVIEW_CODE equal to an admin campaign''s code is a conflict, not a takeover');

select * from finish();
rollback;
