-- Promo attempts: 3 per hour per account AND per device (RATE_LIMIT_PROMO), checked before the
-- code; a limited attempt changes nothing (no failure counted, no token of the other key taken);
-- keys are isolated; after T = window/quota one more attempt fits (roll-over, no double burst).
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(13);

create function pg_temp.code(p_code text) returns bytea
language sql immutable as $$ select extensions.digest('tollgate-promo-v1:' || upper(btrim(p_code)), 'sha256') $$;
create function pg_temp.try(p_account uuid, p_device text, p_code text)
returns table (outcome text, reason text, campaign text, amount bigint, balance bigint, available bigint,
               retry_after_seconds integer, failures_remaining integer, rate_limits jsonb)
language sql as $$
  select * from api.promo_redeem(p_account, p_device, pg_temp.code(p_code), 3, 3, 3600, 'iphash-rl', null)
$$;

-- account key: 3 attempts, the 4th is limited
select results_eq(
  $$select r.outcome, (r.rate_limits -> 0 ->> 'remaining')::int, (r.rate_limits -> 1 ->> 'remaining')::int
      from generate_series(1, 3) n
      cross join lateral pg_temp.try('c1000000-0000-0000-0000-000000000001', 'dev-r' || n, 'WRONG') r order by n$$,
  $$values ('invalid_code'::text, 2, 2), ('invalid_code', 1, 2), ('invalid_code', 0, 2)$$,
  'three attempts per account (on three devices); each reports both buckets');
select results_eq(
  $$select outcome, reason, retry_after_seconds, rate_limits from pg_temp.try('c1000000-0000-0000-0000-000000000001', 'dev-r4', 'WRONG')$$,
  $$values ('rate_limited'::text, 'promo.account'::text, 1200,
            '[{"policy": "promo.account", "allowed": false, "remaining": 0, "reset": 3600, "retryAfter": 1200}]'::jsonb)$$,
  'the fourth is rate limited by promo.account, Retry-After = 3600/3 s');
select is((select cardinality(failures) from ops.promo_guard where subject = 'account:c1000000-0000-0000-0000-000000000001'), 3,
  'a limited attempt is not a failure (the code was never looked at)');
select is((select count(*) from ops.rate_limit_state where policy = 'promo.device' and key = 'device:dev-r4'), 0::bigint,
  'and took no device token');

-- device key: three accounts on one device use it up; a fourth account is limited by the device
select is((select count(*) from generate_series(1, 3) n
            cross join lateral pg_temp.try(('c2000000-0000-0000-0000-00000000000' || n)::uuid, 'dev-shared-rl', 'WRONG') r
           where r.outcome = 'invalid_code'), 3::bigint, 'three accounts on one device');
select results_eq(
  $$select outcome, reason from pg_temp.try('c2000000-0000-0000-0000-000000000004', 'dev-shared-rl', 'WRONG')$$,
  $$values ('rate_limited'::text, 'promo.device'::text)$$, 'a fourth account on that device is limited by promo.device');
select results_eq(
  $$select (rate_limits -> 0 ->> 'remaining')::int from pg_temp.try('c2000000-0000-0000-0000-000000000004', 'dev-elsewhere', 'WRONG')$$,
  $$values (2)$$, 'its own account token was given back: on another device it still has 3 (now 2)');

-- isolation: fresh account, fresh device
select results_eq(
  $$select outcome from pg_temp.try('c3000000-0000-0000-0000-000000000001', 'dev-fresh', 'WRONG')$$,
  $$values ('invalid_code'::text)$$, 'other keys are unaffected');

-- a blocked subject is still rate limited first (limits apply to every attempt)
select is((select count(*) from generate_series(1, 3) n
            cross join lateral pg_temp.try('c4000000-0000-0000-0000-000000000001', 'dev-b' || n, 'WRONG') r), 3::bigint,
  'three more attempts');
select results_eq($$select outcome from pg_temp.try('c4000000-0000-0000-0000-000000000001', 'dev-b9', 'WRONG')$$,
  $$values ('rate_limited'::text)$$, 'and the account is limited');

-- roll-over: after T = 1200 s exactly one more attempt fits (simulated by moving the state back)
update ops.rate_limit_state set tat = tat - interval '1200 seconds'
 where policy = 'promo.account' and key = 'account:c1000000-0000-0000-0000-000000000001';
select results_eq($$select outcome from pg_temp.try('c1000000-0000-0000-0000-000000000001', 'dev-r5', 'WRONG')$$,
  $$values ('invalid_code'::text)$$, 'one interval later one attempt fits again');
select results_eq($$select outcome from pg_temp.try('c1000000-0000-0000-0000-000000000001', 'dev-r6', 'WRONG')$$,
  $$values ('rate_limited'::text)$$, 'but only one: no second burst at the window edge');

-- with limits off (ENABLE_RATE_LIMITING=false → null quota) nothing is taken
select is((select count(*) from generate_series(1, 2) n
            cross join lateral api.promo_redeem('c5000000-0000-0000-0000-000000000001', 'dev-r7', pg_temp.code('WRONG'),
                                                 3, null, null) r
           where r.outcome = 'invalid_code' and r.rate_limits = '[]'::jsonb), 2::bigint,
  'a null quota skips the limits');

select * from finish();
rollback;
