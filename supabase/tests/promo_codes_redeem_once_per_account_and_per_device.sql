-- Promo codes: a redemption grants once per account and once per device per campaign, the grant
-- and the redemption row are written together (ledger kind grant, cause promo:<campaign>), the
-- cap and the validity window hold, codes exist only as hashes, and the kill switch redeems
-- nothing. Rate limits are off here (p_quota null): see promo_attempts_are_rate_limited_*.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(31);

create function pg_temp.code(p_code text) returns bytea
language sql immutable as $$ select extensions.digest('tollgate-promo-v1:' || upper(btrim(p_code)), 'sha256') $$;

-- redeem(account, device, code) as the credits function calls it, rate limits off.
create function pg_temp.redeem(p_account uuid, p_device text, p_code text)
returns table (outcome text, reason text, campaign text, amount bigint, balance bigint, available bigint,
               retry_after_seconds integer, failures_remaining integer, rate_limits jsonb)
language sql as $$
  select * from api.promo_redeem(p_account, p_device, pg_temp.code(p_code), 3, null, null, 'iphash-test', 'req-test')
$$;

select api.promo_campaign_create('spring', pg_temp.code('SPRING-2027'), 25, null, null, null, true, 'test');
select api.promo_campaign_create('capped', pg_temp.code('CAPPED-ONE'), 10, 1, null, null, true, 'test');
select api.promo_campaign_create('future', pg_temp.code('FUTURE-CODE'), 10, null, now() + interval '1 day', null, true, 'test');
select api.promo_campaign_create('closed', pg_temp.code('CLOSED-CODE'), 10, null, now() - interval '2 days', now() - interval '1 day', true, 'test');
select api.promo_campaign_create('off', pg_temp.code('OFF-CODE'), 10, null, null, null, false, 'test');

-- First redemption: account created with its initial grant, then 25 credits.
select results_eq(
  $$select outcome, campaign, amount, balance, available from pg_temp.redeem('a1000000-0000-0000-0000-000000000001', 'dev-a', 'spring-2027')$$,
  $$values ('redeemed'::text, 'spring'::text, 25::bigint, 28::bigint, 28::bigint)$$,
  'a valid code (any case, surrounding spaces allowed) grants its credits on top of the initial grant');
select results_eq(
  $$select kind, reason, cause_key, delta from credits.ledger
     where account_id = 'a1000000-0000-0000-0000-000000000001' and kind = 'grant'$$,
  $$select 'grant'::text, 'promo'::text, 'promo:' || id::text, 25::bigint from credits.promo_campaigns where name = 'spring'$$,
  'the grant is one ledger row of kind grant, reason promo, keyed by the campaign');
select is((select count(*) from credits.promo_redemptions r join credits.ledger l on l.id = r.ledger_id
            where r.account_id = 'a1000000-0000-0000-0000-000000000001' and r.device_id = 'dev-a'),
  1::bigint, 'the redemption row points at its ledger row');
select is((select redemptions from credits.promo_campaigns where name = 'spring'), 1, 'the campaign counts it');

-- One per account, one per device.
select results_eq(
  $$select outcome, reason from pg_temp.redeem('a1000000-0000-0000-0000-000000000001', 'dev-b', 'SPRING-2027')$$,
  $$values ('already_redeemed'::text, 'account'::text)$$, 'the same account on another device: already redeemed (account)');
select results_eq(
  $$select outcome, reason from pg_temp.redeem('a1000000-0000-0000-0000-000000000002', 'dev-a', 'SPRING-2027')$$,
  $$values ('already_redeemed'::text, 'device'::text)$$, 'another account on the same device: already redeemed (device)');
select results_eq(
  $$select outcome, amount from pg_temp.redeem('a1000000-0000-0000-0000-000000000002', 'dev-b', 'SPRING-2027')$$,
  $$values ('redeemed'::text, 25::bigint)$$, 'another account on another device redeems');
select is((select count(*) from credits.ledger where cause_key like 'promo:%'), 2::bigint,
  'refused redemptions wrote no ledger row');
select is((select balance from credits.accounts where id = 'a1000000-0000-0000-0000-000000000001'), 28::bigint,
  'and moved no balance');
select is((select failures from ops.promo_guard where subject = 'account:a1000000-0000-0000-0000-000000000001'),
  '{}'::timestamptz[], 'a right code that was already used is not a guessing failure');

-- The unique keys are the backstop, whatever the function checks first.
select throws_ok(
  $$insert into credits.promo_redemptions (campaign_id, account_id, device_id, amount, ledger_id)
    select r.campaign_id, r.account_id, 'dev-z', 25, r.ledger_id from credits.promo_redemptions r limit 1$$,
  '23505', null, 'a second redemption row for the same account and campaign is impossible');
select throws_ok(
  $$insert into credits.promo_redemptions (campaign_id, account_id, device_id, amount, ledger_id)
    select r.campaign_id, 'a1000000-0000-0000-0000-000000000003', r.device_id, 25, r.ledger_id from credits.promo_redemptions r limit 1$$,
  '23505', null, 'a second redemption row for the same device and campaign is impossible');
select throws_ok($$update credits.promo_redemptions set amount = 1$$, 'P0001', 'LEDGER_IS_APPEND_ONLY',
  'redemption rows are never updated');
select throws_ok($$delete from credits.promo_redemptions$$, 'P0001', 'LEDGER_IS_APPEND_ONLY',
  'redemption rows are never deleted');

-- Cap, window, switch.
select results_eq($$select outcome from pg_temp.redeem('a1000000-0000-0000-0000-000000000003', 'dev-c', 'CAPPED-ONE')$$,
  $$values ('redeemed'::text)$$, 'a capped campaign admits up to its cap');
select results_eq($$select outcome from pg_temp.redeem('a1000000-0000-0000-0000-000000000004', 'dev-d', 'CAPPED-ONE')$$,
  $$values ('exhausted'::text)$$, 'then it is exhausted');
select results_eq($$select outcome, reason from pg_temp.redeem('a1000000-0000-0000-0000-000000000004', 'dev-d', 'FUTURE-CODE')$$,
  $$values ('not_active'::text, 'not_yet_valid'::text)$$, 'before valid_from: not active');
select results_eq($$select outcome, reason from pg_temp.redeem('a1000000-0000-0000-0000-000000000004', 'dev-d', 'CLOSED-CODE')$$,
  $$values ('not_active'::text, 'expired'::text)$$, 'from valid_until on: not active');
select results_eq($$select outcome, reason from pg_temp.redeem('a1000000-0000-0000-0000-000000000004', 'dev-d', 'OFF-CODE')$$,
  $$values ('not_active'::text, 'disabled'::text)$$, 'a disabled campaign: not active');
select is((select balance from credits.accounts where id = 'a1000000-0000-0000-0000-000000000004'), 3::bigint,
  'none of those granted anything');

-- Kill switch: nothing counted, nothing granted, the account not even created.
update ops.feature_flags set enabled = false, retry_after_seconds = 90 where name = 'credits.redeem';
select results_eq($$select outcome, reason, retry_after_seconds from pg_temp.redeem('a1000000-0000-0000-0000-000000000005', 'dev-e', 'SPRING-2027')$$,
  $$values ('maintenance'::text, 'credits.redeem'::text, 90)$$, 'with credits.redeem off: maintenance and its Retry-After');
select is((select count(*) from credits.accounts where id = 'a1000000-0000-0000-0000-000000000005'), 0::bigint,
  'and nothing was written');
update ops.feature_flags set enabled = true where name = 'credits.redeem';

-- Audit: every refusal is a security event, the success a credits event; the code never appears.
select is((select count(*) from ops.audit_log where action = 'promo.rejected' and category = 'security'), 6::bigint,
  'each refusal of a real code is audited as a security event');
select is((select count(*) from ops.audit_log where action = 'promo.redeemed' and category = 'credits'), 3::bigint,
  'each redemption is audited');
select is_empty($$select 1 from ops.audit_log where metadata::text ~* 'SPRING-2027|CAPPED-ONE|FUTURE-CODE'
                   or metadata::text like '%' || encode(pg_temp.code('SPRING-2027'), 'hex') || '%'$$,
  'no audit row contains a code or its hash');
select is((select ip_hash from ops.audit_log where action = 'promo.redeemed' limit 1), 'iphash-test',
  'audit rows carry the caller''s IP hash');

-- Only hashes: the function role can neither read campaigns nor call internals.
select is((select count(*) from information_schema.columns
            where table_schema = 'credits' and table_name = 'promo_campaigns' and column_name ~ '^code$'), 0::bigint,
  'no column stores a code');
select is((select octet_length(code_hash) from credits.promo_campaigns where name = 'spring'), 32,
  'campaigns store a 32-byte SHA-256');
set local role tollgate_api;
select throws_ok($$select * from credits.promo_campaigns$$, '42501', null, 'tollgate_api cannot read campaigns');
select throws_ok($$select ops.promo_guard_lock('account:x')$$, '42501', null, 'tollgate_api cannot call promo internals');
reset role;
select throws_ok(
  $$select * from api.promo_redeem('a1000000-0000-0000-0000-000000000006', 'dev-f', '\x00'::bytea, 3, null, null)$$,
  'P0001', 'VALIDATION_FAILED', 'a code hash that is not 32 bytes is refused');

select * from finish();
rollback;
