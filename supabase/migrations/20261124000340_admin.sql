-- Admin reads (issue 6): GET /admin/accounts/:id in one call. Grants use api.grant (idempotent
-- by reference), flags api.flags_list / api.flag_set, promo campaigns api.promo_campaigns_list /
-- api.promo_campaign_create; prices live with the ai function's table (api.ai_price_set, 000400).

create function api.admin_account_overview(
  p_account uuid,
  p_ledger_limit integer default 20,
  p_jobs_limit integer default 20
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_account credits.accounts;
  v_result jsonb;
begin
  perform credits.require(p_ledger_limit between 1 and 200, 'ledger limit must be 1..200');
  perform credits.require(p_jobs_limit between 1 and 200, 'jobs limit must be 1..200');

  select a.* into v_account from credits.accounts a where a.id = p_account;
  if not found then
    raise exception using errcode = 'P0001', message = 'NOT_FOUND', detail = 'ACCOUNT_NOT_FOUND';
  end if;

  -- Expired-but-unsettled holds are reported as expired and not counted as held (lazy expiry
  -- happens on the next write; this read changes nothing).
  select pg_catalog.jsonb_build_object(
    'id', v_account.id,
    'balance', v_account.balance,
    'held', h.held,
    'available', v_account.balance - h.held,
    'createdAt', v_account.created_at,
    'updatedAt', v_account.updated_at,
    'ledger', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', l.id, 'seq', l.seq, 'kind', l.kind, 'delta', l.delta, 'balanceAfter', l.balance_after,
               'causeType', l.cause_type, 'causeKey', l.cause_key, 'reason', l.reason, 'createdAt', l.created_at)
             order by l.seq desc)
        from (select * from credits.ledger x where x.account_id = p_account
               order by x.seq desc limit p_ledger_limit) l), '[]'::jsonb),
    'jobs', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', j.id,
               'status', case when j.status = 'pending' and j.expires_at <= now() then 'expired' else j.status end,
               'amount', j.amount, 'spent', j.spent, 'debited', j.debited, 'expiresAt', j.expires_at,
               'createdAt', j.created_at, 'settledAt', j.settled_at, 'deviceId', j.device_id)
             order by j.created_at desc)
        from (select * from credits.jobs x where x.account_id = p_account
               order by x.created_at desc limit p_jobs_limit) j), '[]'::jsonb),
    'promo', pg_catalog.jsonb_build_object(
      'redemptions', coalesce((
        select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                 'campaign', c.name, 'amount', r.amount, 'deviceId', r.device_id, 'ledgerId', r.ledger_id,
                 'createdAt', r.created_at) order by r.created_at desc)
          from credits.promo_redemptions r join credits.promo_campaigns c on c.id = r.campaign_id
         where r.account_id = p_account), '[]'::jsonb),
      'recentFailures', coalesce((
        select cardinality(ops.promo_recent_failures(g.failures))
          from ops.promo_guard g where g.subject = 'account:' || p_account::text), 0),
      'blockedUntil', (
        select g.blocked_until from ops.promo_guard g
         where g.subject = 'account:' || p_account::text and g.blocked_until > now()))
  ) into v_result
  from (select coalesce(sum(j.amount), 0)::bigint as held from credits.jobs j
         where j.account_id = p_account and j.status = 'pending' and j.expires_at > now()) h;
  return v_result;
end
$$;

comment on function api.admin_account_overview(uuid, integer, integer) is
  'GET /admin/accounts/:id: {id, balance, held, available, createdAt, updatedAt, ledger (newest first, at most p_ledger_limit), jobs (newest first, at most p_jobs_limit; pending past expiry shown as expired and not held), promo {redemptions, recentFailures, blockedUntil}}. NOT_FOUND (ACCOUNT_NOT_FOUND) for an unknown account. Read-only.';

revoke all on function api.admin_account_overview(uuid, integer, integer) from public, anon, authenticated;
grant execute on function api.admin_account_overview(uuid, integer, integer) to tollgate_api;
