-- =============================================================================
-- Promo (review) codes (issue 6): campaigns, redemptions, failure tracking and lockout.
--
--   credits.promo_campaigns    one row per code: SHA-256 of the code (never the code), credits
--                              per redemption, redemption cap, validity window, enabled.
--                              source 'env' = the default campaign kept in step with REVIEW_CODE.
--   credits.promo_redemptions  one row per successful redemption; unique per (campaign, account)
--                              and per (campaign, device): a second redemption is impossible.
--   ops.promo_guard            per subject ('account:<uuid>' | 'device:<X-Device-Id>'): the
--                              failure times of the last 24 h and a block (blocked_until).
--
-- api.promo_redeem does a whole attempt in ONE transaction (one round trip): kill switch
-- credits.redeem -> account (created on first use) -> rate limits promo.account / promo.device
-- -> block check -> constant-time code check -> one-per-account/device checks -> cap -> ledger
-- grant + redemption row (both or neither: a crash in between cannot allow a second
-- redemption, and unique keys back every rule) -> failures cleared. Every refusal is written to
-- ops.audit_log in the same transaction (category security; never the code or its hash).
--
-- It RETURNS an outcome instead of raising for refusals, because a raise would roll back what
-- must persist: the failure count, the block and the audit row.
--
-- Codes are hashed by the caller: SHA-256 of 'tollgate-promo-v1:' || upper(trim(code)) (see
-- functions/credits/routes/promo_code.ts), so the code never reaches the database, its logs or
-- pg_stat_statements. The comparison digests both sides again and compares the digests over
-- EVERY campaign (a full scan, no index on the expression), so its time does not depend on how
-- much of a guess matches.
--
-- LOCK ORDER (extends the ledger's): rate-limit rows -> promo_guard rows (account, then device)
-- -> account row -> campaign row -> ledger. Concurrent attempts of one account or one device
-- queue on their guard row, so the failure count is exact and "5 failures block" holds.
-- =============================================================================

-- Device keys are the client's validated X-Device-Id (the promo device policy and the guard rows
-- use it as sent); only IPs are HMAC'd. Restated here for the rate-limit state table.
comment on column ops.rate_limit_state.key is
  'Who is limited: "account:<uuid>", "device:<X-Device-Id>", "ip:<HMAC-SHA256 of the client IP (IPv6: its /64), base64url>". Never a raw IP address.';

-- ---------------------------------------------------------------------------
-- campaigns
-- ---------------------------------------------------------------------------
create table credits.promo_campaigns (
  id                      uuid primary key default gen_random_uuid(),
  name                    text not null,
  code_hash               bytea not null,
  credits_per_redemption  bigint not null,
  max_redemptions         integer,
  redemptions             integer not null default 0,
  valid_from              timestamptz not null default now(),
  valid_until             timestamptz,
  enabled                 boolean not null default true,
  source                  text not null default 'admin',
  created_at              timestamptz not null default now(),
  created_by              text not null,
  updated_at              timestamptz not null default now(),
  constraint promo_campaigns_name_format check (name ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
  constraint promo_campaigns_name_unique unique (name),
  constraint promo_campaigns_code_hash_sha256 check (octet_length(code_hash) = 32),
  constraint promo_campaigns_code_unique unique (code_hash),
  constraint promo_campaigns_credits_range check (credits_per_redemption between 1 and 1000000),
  constraint promo_campaigns_cap_positive check (max_redemptions is null or max_redemptions >= 1),
  constraint promo_campaigns_redemptions_within_cap check (
    redemptions >= 0 and (max_redemptions is null or redemptions <= max_redemptions)),
  constraint promo_campaigns_window check (valid_until is null or valid_until > valid_from),
  constraint promo_campaigns_source_known check (source in ('admin', 'env')),
  constraint promo_campaigns_created_by_length check (char_length(created_by) between 1 and 200)
);
comment on table credits.promo_campaigns is
  'Promo (review) code campaigns. The code is stored only as code_hash = SHA-256(''tollgate-promo-v1:'' || upper(trim(code))). A redemption grants credits_per_redemption once per account and once per device (credits.promo_redemptions) while enabled, inside [valid_from, valid_until) and below max_redemptions.';
comment on column credits.promo_campaigns.name is 'Operator-facing name (lower case, e.g. spring-2027); ''review-code'' is the REVIEW_CODE campaign.';
comment on column credits.promo_campaigns.code_hash is 'SHA-256 of ''tollgate-promo-v1:'' || upper(trim(code)), computed by the function; the code itself is never stored.';
comment on column credits.promo_campaigns.credits_per_redemption is 'Credits granted per redemption (default REVIEW_GRANT_AMOUNT = 20, chosen by the caller).';
comment on column credits.promo_campaigns.max_redemptions is 'Redemption cap over all accounts; null = unlimited.';
comment on column credits.promo_campaigns.redemptions is 'Redemptions so far (incremented in the redeeming transaction, under the campaign row lock).';
comment on column credits.promo_campaigns.valid_from is 'First instant the code can be redeemed.';
comment on column credits.promo_campaigns.valid_until is 'The code cannot be redeemed from this instant on; null = no end.';
comment on column credits.promo_campaigns.enabled is 'false = switched off (redeeming it answers code_not_active).';
comment on column credits.promo_campaigns.source is 'admin (POST /admin/promo-campaigns) or env (kept in step with REVIEW_CODE by api.promo_sync_default_campaign; at most one).';
comment on column credits.promo_campaigns.created_by is 'Who created it: admin:current | admin:next | env:REVIEW_CODE | an operator name.';
comment on constraint promo_campaigns_code_unique on credits.promo_campaigns is 'Two campaigns never share a code, so a code identifies at most one campaign.';

create unique index promo_campaigns_one_env_campaign on credits.promo_campaigns (source) where source = 'env';
comment on index credits.promo_campaigns_one_env_campaign is 'At most one campaign is kept in step with REVIEW_CODE (the upsert target of api.promo_sync_default_campaign).';

-- ---------------------------------------------------------------------------
-- redemptions
-- ---------------------------------------------------------------------------
create table credits.promo_redemptions (
  id           bigint generated always as identity primary key,
  campaign_id  uuid not null references credits.promo_campaigns (id),
  account_id   uuid not null references credits.accounts (id),
  device_id    text,
  amount       bigint not null,
  ledger_id    bigint not null references credits.ledger (id),
  created_at   timestamptz not null default now(),
  constraint promo_redemptions_amount_positive check (amount > 0),
  constraint promo_redemptions_device_length check (device_id is null or char_length(device_id) between 1 and 200),
  constraint promo_redemptions_once_per_account unique (campaign_id, account_id),
  constraint promo_redemptions_ledger_unique unique (ledger_id)
);
create unique index promo_redemptions_once_per_device
  on credits.promo_redemptions (campaign_id, device_id) where device_id is not null;
create index promo_redemptions_account_idx on credits.promo_redemptions (account_id, created_at desc);
comment on table credits.promo_redemptions is
  'One row per successful promo redemption, written in the same transaction as its grant ledger row (kind grant, reason promo, cause_key ''promo:<campaign id>''). Unique per (campaign, account) and per (campaign, device): a second redemption is impossible even under concurrency.';
comment on column credits.promo_redemptions.device_id is 'X-Device-Id of the redeeming request (the per-device rule); null only for callers that send none.';
comment on column credits.promo_redemptions.ledger_id is 'The grant''s ledger row.';
comment on index credits.promo_redemptions_once_per_device is 'One redemption per device per campaign.';
comment on index credits.promo_redemptions_account_idx is 'Account overview (admin) lists an account''s redemptions.';

create trigger promo_redemptions_no_update before update on credits.promo_redemptions
  for each row execute function credits.ledger_is_append_only();
create trigger promo_redemptions_no_delete before delete on credits.promo_redemptions
  for each row execute function credits.ledger_is_append_only();
create trigger promo_redemptions_no_truncate before truncate on credits.promo_redemptions
  for each statement execute function credits.ledger_is_append_only();

-- ---------------------------------------------------------------------------
-- failures and blocks
-- ---------------------------------------------------------------------------
create table ops.promo_guard (
  subject        text primary key,
  failures       timestamptz[] not null default '{}',
  blocked_until  timestamptz,
  updated_at     timestamptz not null default now(),
  constraint promo_guard_subject_format check (subject ~ '^(account|device):.' and char_length(subject) <= 256),
  constraint promo_guard_failures_bounded check (cardinality(failures) <= 50)
);
comment on table ops.promo_guard is
  'Promo lockout state per subject (account:<uuid> or device:<X-Device-Id>): failed code attempts of the last 24 h and the block they caused. 5 failures within 24 h block the account AND the device of the attempt for 24 h; a successful redemption clears the failures. The row is also the lock that serialises one subject''s attempts. Purged hourly (tollgate-purge-promo-guard).';
comment on column ops.promo_guard.failures is 'Times of failed code attempts within the last 24 h (older ones are dropped on every write).';
comment on column ops.promo_guard.blocked_until is 'Redemption is refused (403 BLOCKED, Retry-After) until this instant.';

alter table credits.promo_campaigns enable row level security;
alter table credits.promo_redemptions enable row level security;
alter table ops.promo_guard enable row level security;
revoke all on table credits.promo_campaigns, credits.promo_redemptions from public, anon, authenticated, service_role, tollgate_api;
revoke all on table ops.promo_guard from public, anon, authenticated, service_role, tollgate_api;

-- ---------------------------------------------------------------------------
-- internals
-- ---------------------------------------------------------------------------

-- Appends one audit row (same transaction as the decision it records).
create function ops.promo_audit(
  p_category text, p_action text, p_account uuid, p_device_id text, p_ip_hash text,
  p_request_id text, p_metadata jsonb
) returns void
language sql
set search_path = ''
as $$
  insert into ops.audit_log (category, action, account_id, device_id, ip_hash, request_id, metadata)
  values (p_category, p_action, p_account, left(p_device_id, 128), left(p_ip_hash, 128), left(p_request_id, 128),
          coalesce(p_metadata, '{}'::jsonb));
$$;
comment on function ops.promo_audit(text, text, uuid, text, text, text, jsonb) is
  'Audit row for a promo decision, written inside api.promo_redeem''s transaction. Metadata never contains the code or its hash.';

-- Locks (creating if needed) a subject's guard row and returns it.
create function ops.promo_guard_lock(p_subject text) returns ops.promo_guard
language plpgsql
set search_path = ''
as $$
declare
  v_row ops.promo_guard;
begin
  insert into ops.promo_guard as g (subject) values (p_subject)
  on conflict (subject) do update set updated_at = pg_catalog.now()
  returning g.* into v_row;
  return v_row;
end
$$;
comment on function ops.promo_guard_lock(text) is
  'Upserts and row-locks the promo guard row of a subject (account:<uuid> | device:<id>); concurrent attempts of the same subject queue here.';

-- Failures of a guard row that still count (within the last 24 h).
create function ops.promo_recent_failures(p_failures timestamptz[]) returns timestamptz[]
language sql
stable
set search_path = ''
as $$
  select coalesce(pg_catalog.array_agg(f order by f), '{}')
    from pg_catalog.unnest(p_failures) as f
   where f > pg_catalog.now() - interval '24 hours'
$$;
comment on function ops.promo_recent_failures(timestamptz[]) is 'The failure times within the last 24 h, oldest first.';

-- ---------------------------------------------------------------------------
-- api.promo_redeem
-- ---------------------------------------------------------------------------
create function api.promo_redeem(
  p_account uuid,
  p_device_id text,
  p_code_hash bytea,
  p_initial_grant integer,
  p_quota integer,
  p_window_seconds integer,
  p_ip_hash text default null,
  p_request_id text default null
)
returns table (
  outcome text,
  reason text,
  campaign text,
  amount bigint,
  balance bigint,
  available bigint,
  retry_after_seconds integer,
  failures_remaining integer,
  rate_limits jsonb
)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  c_max_failures constant integer := 5;
  c_block constant interval := interval '24 hours';
  v_flag ops.feature_flags;
  v_account_subject text := 'account:' || p_account::text;
  v_device_subject text := case when p_device_id is null then null else 'device:' || p_device_id end;
  v_acc_rl record;
  v_dev_rl record;
  v_limits jsonb := '[]'::jsonb;
  v_acc_guard ops.promo_guard;
  v_dev_guard ops.promo_guard;
  v_blocked_until timestamptz;
  v_campaign credits.promo_campaigns;
  v_acc_failures timestamptz[];
  v_dev_failures timestamptz[];
  v_count integer;
  v_ledger credits.ledger;
  v_constraint text;
  v_meta jsonb;
begin
  perform credits.require(p_account is not null, 'account is required');
  perform credits.require(octet_length(p_code_hash) = 32, 'code hash must be 32 bytes (SHA-256)');
  perform credits.require(p_device_id is null or char_length(p_device_id) between 1 and 200, 'device id must be 1..200 chars');
  perform credits.require(p_quota is null or p_window_seconds is not null, 'a quota needs a window');

  -- 1. Kill switch: while credits.redeem is off nothing is counted, checked or granted.
  select f.* into v_flag from ops.feature_flags f where f.name = 'credits.redeem';
  if not found then
    raise exception using errcode = 'P0001', message = 'INTERNAL', detail = 'unknown feature flag ''credits.redeem''';
  end if;
  if not v_flag.enabled then
    return query select 'maintenance'::text, v_flag.name, null::text, null::bigint, null::bigint, null::bigint,
                        v_flag.retry_after_seconds, null::integer, v_limits;
    return;
  end if;

  -- 2. The account exists from the first authenticated call on (initial grant exactly once).
  if not exists (select 1 from credits.accounts a where a.id = p_account) then
    perform api.ensure_account(p_account, p_initial_grant);
  end if;

  -- 3. Rate limits, account then device (fixed order). A denial takes nothing: when the device
  --    is denied, the account's token is given back.
  if p_quota is not null then
    select * into v_acc_rl from ops.rate_limit_take('promo.account', v_account_subject, p_quota, p_window_seconds);
    if not v_acc_rl.allowed then
      return query select 'rate_limited'::text, 'promo.account'::text, null::text, null::bigint, null::bigint, null::bigint,
        v_acc_rl.retry_after_seconds, null::integer,
        pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('policy', 'promo.account', 'allowed', false,
          'remaining', v_acc_rl.remaining, 'reset', v_acc_rl.reset_seconds, 'retryAfter', v_acc_rl.retry_after_seconds));
      return;
    end if;
    v_limits := pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('policy', 'promo.account', 'allowed', true,
      'remaining', v_acc_rl.remaining, 'reset', v_acc_rl.reset_seconds, 'retryAfter', v_acc_rl.retry_after_seconds));
    if v_device_subject is not null then
      select * into v_dev_rl from ops.rate_limit_take('promo.device', v_device_subject, p_quota, p_window_seconds);
      if not v_dev_rl.allowed then
        perform ops.rate_limit_refund('promo.account', v_account_subject, 1);
        return query select 'rate_limited'::text, 'promo.device'::text, null::text, null::bigint, null::bigint, null::bigint,
          v_dev_rl.retry_after_seconds, null::integer,
          pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('policy', 'promo.device', 'allowed', false,
            'remaining', v_dev_rl.remaining, 'reset', v_dev_rl.reset_seconds, 'retryAfter', v_dev_rl.retry_after_seconds));
        return;
      end if;
      v_limits := v_limits || pg_catalog.jsonb_build_object('policy', 'promo.device', 'allowed', true,
        'remaining', v_dev_rl.remaining, 'reset', v_dev_rl.reset_seconds, 'retryAfter', v_dev_rl.retry_after_seconds);
    end if;
  end if;

  -- 4. Lock the subjects' guard rows (account, then device) and refuse blocked subjects.
  v_acc_guard := ops.promo_guard_lock(v_account_subject);
  if v_device_subject is not null then
    v_dev_guard := ops.promo_guard_lock(v_device_subject);
  end if;
  v_blocked_until := greatest(v_acc_guard.blocked_until, v_dev_guard.blocked_until);
  if v_blocked_until > now() then
    perform ops.promo_audit('security', 'promo.blocked', p_account, p_device_id, p_ip_hash, p_request_id,
      pg_catalog.jsonb_build_object('blockedUntil', v_blocked_until,
        'accountBlocked', coalesce(v_acc_guard.blocked_until > now(), false),
        'deviceBlocked', coalesce(v_dev_guard.blocked_until > now(), false)));
    return query select 'blocked'::text, null::text, null::text, null::bigint, null::bigint, null::bigint,
      greatest(1, ceil(extract(epoch from v_blocked_until - now())))::integer, 0, v_limits;
    return;
  end if;

  -- 5. The code: compare digests of both hashes against every campaign (full scan, see top).
  select c.* into v_campaign
    from credits.promo_campaigns c
   where extensions.digest(c.code_hash, 'sha256') = extensions.digest(p_code_hash, 'sha256');

  if not found then
    v_acc_failures := ops.promo_recent_failures(v_acc_guard.failures) || now();
    v_count := cardinality(v_acc_failures);
    update ops.promo_guard g set failures = v_acc_failures where g.subject = v_account_subject;
    if v_device_subject is not null then
      v_dev_failures := ops.promo_recent_failures(v_dev_guard.failures) || now();
      v_count := greatest(v_count, cardinality(v_dev_failures));
      update ops.promo_guard g set failures = v_dev_failures where g.subject = v_device_subject;
    end if;
    v_meta := pg_catalog.jsonb_build_object('reason', 'invalid_code', 'failures', v_count, 'threshold', c_max_failures);
    perform ops.promo_audit('security', 'promo.failed', p_account, p_device_id, p_ip_hash, p_request_id, v_meta);

    if v_count >= c_max_failures then
      -- The 5th failure within 24 h blocks the account AND the device of this attempt.
      update ops.promo_guard g set blocked_until = greatest(g.blocked_until, now() + c_block)
       where g.subject in (v_account_subject, v_device_subject);
      perform ops.promo_audit('security', 'promo.lockout', p_account, p_device_id, p_ip_hash, p_request_id,
        pg_catalog.jsonb_build_object('failures', v_count, 'blockedUntil', now() + c_block));
      return query select 'blocked'::text, 'too_many_failures'::text, null::text, null::bigint, null::bigint, null::bigint,
        ceil(extract(epoch from c_block))::integer, 0, v_limits;
      return;
    end if;
    return query select 'invalid_code'::text, null::text, null::text, null::bigint, null::bigint, null::bigint,
      null::integer, c_max_failures - v_count, v_limits;
    return;
  end if;

  -- 6. A real code that cannot be redeemed now. Not a guessing failure (the code was right),
  --    but still refused: audited, failures untouched.
  if not v_campaign.enabled or now() < v_campaign.valid_from
     or (v_campaign.valid_until is not null and now() >= v_campaign.valid_until) then
    perform ops.promo_audit('security', 'promo.rejected', p_account, p_device_id, p_ip_hash, p_request_id,
      pg_catalog.jsonb_build_object('reason', 'code_not_active', 'campaign', v_campaign.name));
    return query select 'not_active'::text,
      case when not v_campaign.enabled then 'disabled'
           when now() < v_campaign.valid_from then 'not_yet_valid' else 'expired' end,
      v_campaign.name, null::bigint, null::bigint, null::bigint, null::integer, null::integer, v_limits;
    return;
  end if;

  -- 7. One redemption per account and per device per campaign.
  if exists (select 1 from credits.promo_redemptions r
              where r.campaign_id = v_campaign.id and r.account_id = p_account) then
    v_constraint := 'account';
  elsif p_device_id is not null and exists (
          select 1 from credits.promo_redemptions r
           where r.campaign_id = v_campaign.id and r.device_id = p_device_id) then
    v_constraint := 'device';
  end if;

  -- 8. Grant: account lock -> campaign cap (row lock) -> ledger row -> redemption row. The
  --    unique keys catch a concurrent duplicate (same device on another account); the savepoint
  --    then undoes the grant and the count together.
  if v_constraint is null then
    begin
      perform credits.lock_account(p_account);
      update credits.promo_campaigns c
         set redemptions = c.redemptions + 1, updated_at = now()
       where c.id = v_campaign.id and (c.max_redemptions is null or c.redemptions < c.max_redemptions);
      if not found then
        v_constraint := 'exhausted';
      else
        insert into credits.ledger (account_id, kind, cause_type, cause_key, reason, delta)
        values (p_account, 'grant', 'grant', 'promo:' || v_campaign.id::text, 'promo', v_campaign.credits_per_redemption)
        returning * into v_ledger;
        insert into credits.promo_redemptions (campaign_id, account_id, device_id, amount, ledger_id)
        values (v_campaign.id, p_account, p_device_id, v_campaign.credits_per_redemption, v_ledger.id);
      end if;
    exception when unique_violation then
      get stacked diagnostics v_constraint = constraint_name;
      v_constraint := case when v_constraint = 'promo_redemptions_once_per_device' then 'device' else 'account' end;
    end;
  end if;

  if v_constraint = 'exhausted' then
    perform ops.promo_audit('security', 'promo.rejected', p_account, p_device_id, p_ip_hash, p_request_id,
      pg_catalog.jsonb_build_object('reason', 'campaign_exhausted', 'campaign', v_campaign.name));
    return query select 'exhausted'::text, null::text, v_campaign.name, null::bigint, null::bigint, null::bigint,
      null::integer, null::integer, v_limits;
    return;
  elsif v_constraint is not null then
    perform ops.promo_audit('security', 'promo.rejected', p_account, p_device_id, p_ip_hash, p_request_id,
      pg_catalog.jsonb_build_object('reason', 'already_redeemed', 'by', v_constraint, 'campaign', v_campaign.name));
    return query select 'already_redeemed'::text, v_constraint, v_campaign.name, null::bigint, null::bigint, null::bigint,
      null::integer, null::integer, v_limits;
    return;
  end if;

  -- 9. Success clears the failure count of the account and the device.
  update ops.promo_guard g set failures = '{}' where g.subject in (v_account_subject, v_device_subject);
  perform ops.promo_audit('credits', 'promo.redeemed', p_account, p_device_id, p_ip_hash, p_request_id,
    pg_catalog.jsonb_build_object('campaign', v_campaign.name, 'amount', v_campaign.credits_per_redemption,
                                  'ledgerId', v_ledger.id));
  return query
    select 'redeemed'::text, null::text, v_campaign.name, v_campaign.credits_per_redemption,
           a.balance, a.balance - a.held, null::integer, null::integer, v_limits
      from credits.accounts a where a.id = p_account;
end
$$;
comment on function api.promo_redeem(uuid, text, bytea, integer, integer, integer, text, text) is
  'POST /credits/redeem in one transaction. Returns one row; outcome: redeemed (amount, balance, available) | invalid_code (failures_remaining) | blocked (retry_after_seconds; reason too_many_failures when this attempt caused the block) | not_active (reason disabled/not_yet_valid/expired) | already_redeemed (reason account/device) | exhausted | rate_limited (reason = denying policy, retry_after_seconds) | maintenance (credits.redeem off, retry_after_seconds). rate_limits = JSON array of {policy, allowed, remaining, reset, retryAfter} for the RateLimit headers. p_quota null skips the rate limits (ENABLE_RATE_LIMITING=false). Refusals are audited (security), a redemption too (credits); the code never is.';

-- ---------------------------------------------------------------------------
-- REVIEW_CODE: the default campaign
-- ---------------------------------------------------------------------------
create function api.promo_sync_default_campaign(p_code_hash bytea, p_credits bigint)
returns table (campaign_id uuid, enabled boolean, changed boolean)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_id uuid;
  v_enabled boolean;
begin
  perform credits.require(p_code_hash is null or octet_length(p_code_hash) = 32, 'code hash must be 32 bytes (SHA-256)');
  perform credits.require(p_credits between 1 and 1000000, 'credits must be 1..1000000');

  if p_code_hash is null then
    -- REVIEW_CODE unset: the default campaign stays, switched off.
    update credits.promo_campaigns c set enabled = false, updated_at = now()
     where c.source = 'env' and c.enabled
    returning c.id into v_id;
    if found then
      return query select v_id, false, true;
    else
      return query select c.id, c.enabled, false from credits.promo_campaigns c where c.source = 'env';
    end if;
    return;
  end if;

  begin
    insert into credits.promo_campaigns as c (name, code_hash, credits_per_redemption, source, created_by)
    values ('review-code', p_code_hash, p_credits, 'env', 'env:REVIEW_CODE')
    on conflict (source) where source = 'env' do update
       set code_hash = excluded.code_hash, credits_per_redemption = excluded.credits_per_redemption,
           enabled = true, updated_at = now()
     where (c.code_hash, c.credits_per_redemption, c.enabled)
           is distinct from (excluded.code_hash, excluded.credits_per_redemption, true)
    returning c.id, c.enabled into v_id, v_enabled;
  exception when unique_violation then
    raise exception using errcode = 'P0001', message = 'CONFLICT',
      detail = 'REVIEW_CODE is also the code (or name) of another promo campaign';
  end;
  if v_id is not null then
    return query select v_id, v_enabled, true;
  else
    return query select c.id, c.enabled, false from credits.promo_campaigns c where c.source = 'env';
  end if;
end
$$;
comment on function api.promo_sync_default_campaign(bytea, bigint) is
  'Keeps the default campaign (name review-code, source env) in step with REVIEW_CODE and REVIEW_GRANT_AMOUNT: upserts its code hash and credits and enables it; with p_code_hash null (REVIEW_CODE unset) switches it off. Idempotent and cheap (no write when nothing changed); the credits function calls it once per isolate. The campaign keeps its id when the code changes, so accounts and devices that redeemed the old code cannot redeem the new one. CONFLICT when another campaign has the same code.';

-- ---------------------------------------------------------------------------
-- admin: list and create campaigns
-- ---------------------------------------------------------------------------
create function api.promo_campaigns_list()
returns table (
  id uuid, name text, credits_per_redemption bigint, max_redemptions integer, redemptions integer,
  valid_from timestamptz, valid_until timestamptz, enabled boolean, active boolean, source text,
  created_at timestamptz, created_by text, updated_at timestamptz)
language sql
stable
security definer
set search_path = ''
as $$
  select c.id, c.name, c.credits_per_redemption, c.max_redemptions, c.redemptions, c.valid_from, c.valid_until,
         c.enabled,
         c.enabled and now() >= c.valid_from and (c.valid_until is null or now() < c.valid_until)
           and (c.max_redemptions is null or c.redemptions < c.max_redemptions),
         c.source, c.created_at, c.created_by, c.updated_at
    from credits.promo_campaigns c
   order by c.created_at desc, c.name
$$;
comment on function api.promo_campaigns_list() is
  'GET /admin/promo-campaigns: every campaign without its code hash; active = redeemable right now (enabled, inside the window, below the cap).';

create function api.promo_campaign_create(
  p_name text,
  p_code_hash bytea,
  p_credits bigint,
  p_max_redemptions integer,
  p_valid_from timestamptz,
  p_valid_until timestamptz,
  p_enabled boolean,
  p_actor text
)
returns table (
  id uuid, name text, credits_per_redemption bigint, max_redemptions integer, redemptions integer,
  valid_from timestamptz, valid_until timestamptz, enabled boolean, active boolean, source text,
  created_at timestamptz, created_by text, updated_at timestamptz)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_id uuid;
  v_constraint text;
begin
  perform credits.require(p_name ~ '^[a-z0-9][a-z0-9_.-]{0,63}$', 'name must be 1..64 of a-z 0-9 _ . - starting with a letter or digit');
  perform credits.require(p_name <> 'review-code', 'review-code is reserved for the REVIEW_CODE campaign');
  perform credits.require(octet_length(p_code_hash) = 32, 'code hash must be 32 bytes (SHA-256)');
  perform credits.require(p_credits between 1 and 1000000, 'credits per redemption must be 1..1000000');
  perform credits.require(p_max_redemptions is null or p_max_redemptions >= 1, 'max redemptions must be >= 1');
  perform credits.require(p_valid_until is null or p_valid_until > coalesce(p_valid_from, now()),
                          'valid until must be after valid from');
  perform credits.require(char_length(btrim(p_actor)) between 1 and 200, 'actor must be 1..200 chars');

  begin
    insert into credits.promo_campaigns (name, code_hash, credits_per_redemption, max_redemptions,
                                         valid_from, valid_until, enabled, source, created_by)
    values (p_name, p_code_hash, p_credits, p_max_redemptions, coalesce(p_valid_from, now()), p_valid_until,
            coalesce(p_enabled, true), 'admin', btrim(p_actor))
    returning credits.promo_campaigns.id into v_id;
  exception when unique_violation then
    get stacked diagnostics v_constraint = constraint_name;
    raise exception using errcode = 'P0001', message = 'CONFLICT',
      detail = case when v_constraint = 'promo_campaigns_name_unique' then 'a campaign with this name exists'
                    else 'another campaign already uses this code' end;
  end;
  return query select l.* from api.promo_campaigns_list() l where l.id = v_id;
end
$$;
comment on function api.promo_campaign_create(text, bytea, bigint, integer, timestamptz, timestamptz, boolean, text) is
  'POST /admin/promo-campaigns: creates a campaign from the code''s hash (the function hashes; the code never reaches SQL). CONFLICT when the name or the code is taken; VALIDATION_FAILED for bad bounds. Returns the row as api.promo_campaigns_list shows it.';

-- ---------------------------------------------------------------------------
-- housekeeping
-- ---------------------------------------------------------------------------
create function ops.promo_guard_purge()
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_deleted bigint;
begin
  -- Rows with no block in force and no failure within 24 h equal absent rows. SKIP LOCKED:
  -- never wait for (or deadlock with) an attempt in progress.
  delete from ops.promo_guard g
   where g.subject in (
     select s.subject from ops.promo_guard s
      where (s.blocked_until is null or s.blocked_until <= pg_catalog.now())
        and not exists (select 1 from pg_catalog.unnest(s.failures) f where f > pg_catalog.now() - interval '24 hours')
        for update skip locked);
  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$;
comment on function ops.promo_guard_purge() is
  'Deletes promo guard rows without a block in force and without failures in the last 24 h; returns how many. Scheduled hourly by pg_cron as tollgate-purge-promo-guard.';

revoke all on function
  ops.promo_audit(text, text, uuid, text, text, text, jsonb), ops.promo_guard_lock(text),
  ops.promo_recent_failures(timestamptz[]), ops.promo_guard_purge(),
  api.promo_redeem(uuid, text, bytea, integer, integer, integer, text, text),
  api.promo_sync_default_campaign(bytea, bigint), api.promo_campaigns_list(),
  api.promo_campaign_create(text, bytea, bigint, integer, timestamptz, timestamptz, boolean, text)
from public, anon, authenticated;
grant execute on function
  api.promo_redeem(uuid, text, bytea, integer, integer, integer, text, text),
  api.promo_sync_default_campaign(bytea, bigint), api.promo_campaigns_list(),
  api.promo_campaign_create(text, bytea, bigint, integer, timestamptz, timestamptz, boolean, text)
to tollgate_api;

-- Purged hourly as 'tollgate-purge-promo-guard' (20261124000590_cron_schedules.sql).
