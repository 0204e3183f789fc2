-- Lockout: 5 wrong codes within 24 h block the account AND the device for 24 h (the right code
-- is refused too, and so is every other account on that device and every other device of that
-- account); a success clears the failure count; failures older than 24 h no longer count; the
-- block ends after 24 h. Every failure is a security event without the code.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(25);

create function pg_temp.code(p_code text) returns bytea
language sql immutable as $$ select extensions.digest('tollgate-promo-v1:' || upper(btrim(p_code)), 'sha256') $$;
create function pg_temp.redeem(p_account uuid, p_device text, p_code text)
returns table (outcome text, reason text, campaign text, amount bigint, balance bigint, available bigint,
               retry_after_seconds integer, failures_remaining integer, rate_limits jsonb)
language sql as $$
  select * from api.promo_redeem(p_account, p_device, pg_temp.code(p_code), 3, null, null, 'iphash-lock', null)
$$;
select api.promo_campaign_create('lock', pg_temp.code('RIGHT-CODE'), 20, null, null, null, true, 'test');

-- wrong x4: refused with the attempts left
select results_eq(
  $$select r.outcome, r.failures_remaining from generate_series(1, 4) n
      cross join lateral pg_temp.redeem('b1000000-0000-0000-0000-000000000001', 'dev-lock', 'WRONG-' || n) r order by n$$,
  $$values ('invalid_code'::text, 4), ('invalid_code', 3), ('invalid_code', 2), ('invalid_code', 1)$$,
  'four wrong codes: invalid, 4..1 attempts left');
-- the 5th wrong code blocks
select results_eq(
  $$select outcome, reason, retry_after_seconds from pg_temp.redeem('b1000000-0000-0000-0000-000000000001', 'dev-lock', 'WRONG-5')$$,
  $$values ('blocked'::text, 'too_many_failures'::text, 86400)$$,
  'the fifth wrong code within 24 h blocks, Retry-After one day');
select ok((select blocked_until between now() + interval '23 hours 59 minutes' and now() + interval '24 hours'
             from ops.promo_guard where subject = 'account:b1000000-0000-0000-0000-000000000001'), 'the account is blocked for 24 h');
select ok((select blocked_until > now() + interval '23 hours' from ops.promo_guard where subject = 'device:dev-lock'),
  'and so is the device');
-- blocked: the right code, other accounts on the device, other devices of the account
select results_eq(
  $$select outcome from pg_temp.redeem('b1000000-0000-0000-0000-000000000001', 'dev-lock', 'RIGHT-CODE')$$,
  $$values ('blocked'::text)$$, 'the right code after the block is still blocked');
select ok((select retry_after_seconds between 86000 and 86400
             from pg_temp.redeem('b1000000-0000-0000-0000-000000000001', 'dev-lock', 'RIGHT-CODE')),
  'with the seconds left in Retry-After');
select results_eq(
  $$select outcome from pg_temp.redeem('b1000000-0000-0000-0000-000000000002', 'dev-lock', 'RIGHT-CODE')$$,
  $$values ('blocked'::text)$$, 'another account on the blocked device is blocked');
select results_eq(
  $$select outcome from pg_temp.redeem('b1000000-0000-0000-0000-000000000001', 'dev-other', 'RIGHT-CODE')$$,
  $$values ('blocked'::text)$$, 'the blocked account on another device is blocked');
select is((select count(*) from credits.promo_redemptions where campaign_id = (select id from credits.promo_campaigns where name = 'lock')),
  0::bigint, 'nothing was redeemed while blocked');
select is((select cardinality(failures) from ops.promo_guard where subject = 'account:b1000000-0000-0000-0000-000000000001'), 5,
  'blocked attempts do not count as further failures');

-- audit
select is((select count(*) from ops.audit_log where category = 'security' and action = 'promo.failed'
            and account_id = 'b1000000-0000-0000-0000-000000000001'), 5::bigint, 'each failure is a security event');
select is((select count(*) from ops.audit_log where action = 'promo.lockout'), 1::bigint, 'the lockout is an event of its own');
select is((select count(*) from ops.audit_log where action = 'promo.blocked'), 4::bigint, 'each blocked attempt is an event');
select is_empty($$select 1 from ops.audit_log where metadata::text ~* 'WRONG-|RIGHT-CODE'$$, 'no event contains a code');
select is((select count(distinct ip_hash) from ops.audit_log where action like 'promo.%'), 1::bigint,
  'events carry the IP hash');

-- the block ends after 24 h
update ops.promo_guard set blocked_until = now() - interval '1 second',
       failures = array(select f - interval '1 day' from unnest(failures) f)
 where subject in ('account:b1000000-0000-0000-0000-000000000001', 'device:dev-lock');
select results_eq(
  $$select outcome from pg_temp.redeem('b1000000-0000-0000-0000-000000000001', 'dev-lock', 'RIGHT-CODE')$$,
  $$values ('redeemed'::text)$$, 'after 24 h the block is over and the right code redeems');

-- a success clears the failure count: 4 wrong, right, 4 wrong again → still not blocked
select is((select count(*) from generate_series(1, 4) n
            cross join lateral pg_temp.redeem('b1000000-0000-0000-0000-000000000003', 'dev-clear', 'WRONG-' || n) r), 4::bigint, 'four wrong codes on a fresh account');
select results_eq(
  $$select outcome from pg_temp.redeem('b1000000-0000-0000-0000-000000000003', 'dev-clear', 'RIGHT-CODE')$$,
  $$values ('redeemed'::text)$$, 'the right code still redeems (4 < 5)');
select is((select failures from ops.promo_guard where subject = 'account:b1000000-0000-0000-0000-000000000003'),
  '{}'::timestamptz[], 'the success cleared the account''s failures');
select is((select failures from ops.promo_guard where subject = 'device:dev-clear'),
  '{}'::timestamptz[], 'and the device''s');
select results_eq(
  $$select r.outcome, r.failures_remaining from generate_series(1, 4) n
      cross join lateral pg_temp.redeem('b1000000-0000-0000-0000-000000000003', 'dev-clear', 'WRONG-' || n) r order by n$$,
  $$values ('invalid_code'::text, 4), ('invalid_code', 3), ('invalid_code', 2), ('invalid_code', 1)$$,
  'four more wrong codes count from zero again: not blocked');

-- failures older than 24 h do not count
update ops.promo_guard set failures = array[now() - interval '25 hours', now() - interval '25 hours',
                                            now() - interval '25 hours', now() - interval '25 hours']
 where subject in ('account:b1000000-0000-0000-0000-000000000004');
select results_eq(
  $$select outcome, failures_remaining from pg_temp.redeem('b1000000-0000-0000-0000-000000000004', 'dev-old', 'WRONG-X')$$,
  $$values ('invalid_code'::text, 4)$$, 'failures older than 24 h are forgotten');

-- the device alone reaching 5 (over several accounts) blocks it and the account of that attempt
select is((select count(*) from generate_series(1, 4) n
            cross join lateral pg_temp.redeem(('b2000000-0000-0000-0000-00000000000' || n)::uuid, 'dev-shared', 'WRONG-' || n) r), 4::bigint, 'four accounts fail once each on one device');
select results_eq(
  $$select outcome from pg_temp.redeem('b2000000-0000-0000-0000-000000000005', 'dev-shared', 'WRONG-5')$$,
  $$values ('blocked'::text)$$, 'the device''s fifth failure blocks it, whichever account tried');

-- purge keeps blocks and recent failures, drops the rest
select ok(ops.promo_guard_purge() >= 0 and exists (select 1 from ops.promo_guard where subject = 'device:dev-shared'),
  'the hourly purge keeps blocked subjects');

select * from finish();
rollback;
