-- =============================================================================
-- api: one-shot charges and their refunds (calls without a job, e.g. an image generation):
-- charge atomically BEFORE the upstream call, refund exactly once if it fails.
--   charge  account lock -> available check -> charges row + ledger 'charge' (-amount)
--   refund  account lock -> charge row lock -> ledger 'refund' (+amount <= charged), once
-- Both are idempotent by (account, reference); see error codes in 20261124000210.
-- =============================================================================

create function api.charge(p_account uuid, p_amount bigint, p_reference text)
returns table (
  reference text, amount bigint, refunded bigint, status text,
  balance bigint, held bigint, available bigint, applied boolean)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_account credits.accounts;
  v_charge credits.charges;
  v_balance bigint;
begin
  -- Hot path (the benchmark's "one-shot charge"): validation inline, one account lock, one
  -- charges insert, one ledger insert; no re-read of the account (balance_after is returned).
  if p_amount is null or p_amount < 1 or p_amount > 1000000000000 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'amount must be 1..1e12';
  end if;
  if p_reference is null or length(p_reference) not between 1 and 255 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'reference must be 1..255 chars';
  end if;

  v_account := credits.lock_account(p_account);

  if v_account.balance - v_account.held >= p_amount then
    insert into credits.charges (account_id, reference, amount) values (p_account, p_reference, p_amount)
    on conflict (account_id, reference) do nothing;
    if found then
      insert into credits.ledger (account_id, kind, cause_type, cause_key, delta)
      values (p_account, 'charge', 'charge', p_reference, -p_amount)
      returning balance_after into v_balance;
      return query select p_reference, p_amount, 0::bigint, 'charged'::text,
                          v_balance, v_account.held, v_balance - v_account.held, true;
      return;
    end if;
  end if;

  -- Either a repeat of an earlier charge (idempotent) or not enough credits.
  select c.* into v_charge from credits.charges c where c.account_id = p_account and c.reference = p_reference;
  if not found then
    raise exception using errcode = 'P0001', message = 'INSUFFICIENT_CREDITS',
      detail = format('available %s, requested %s', v_account.balance - v_account.held, p_amount);
  end if;
  if v_charge.amount <> p_amount then
    raise exception using errcode = 'P0001', message = 'IDEMPOTENCY_KEY_REUSED',
      detail = 'this charge reference was used with a different amount';
  end if;
  return query select v_charge.reference, v_charge.amount, v_charge.refunded, v_charge.status,
                      v_account.balance, v_account.held, v_account.balance - v_account.held, false;
end
$$;
comment on function api.charge(uuid, bigint, text) is
  'One-shot charge: debits p_amount from available at once (INSUFFICIENT_CREDITS, nothing changed, when short). At most once per (account, p_reference): a repeat with the same amount returns the charge with applied = false; another amount raises IDEMPOTENCY_KEY_REUSED.';

create function api.refund(p_account uuid, p_reference text, p_amount bigint default null)
returns table (
  reference text, amount bigint, refunded bigint, status text,
  balance bigint, held bigint, available bigint, applied boolean)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_charge credits.charges;
  v_refund bigint;
  v_applied boolean := false;
begin
  perform credits.require(p_amount is null or p_amount >= 1, 'amount must be >= 1');
  perform credits.lock_account(p_account);
  select c.* into v_charge from credits.charges c
   where c.account_id = p_account and c.reference = p_reference
     for no key update;
  if not found then
    raise exception using errcode = 'P0001', message = 'NOT_FOUND', detail = 'CHARGE_NOT_FOUND';
  end if;

  if v_charge.status = 'charged' then
    v_refund := coalesce(p_amount, v_charge.amount);
    perform credits.require(v_refund <= v_charge.amount,
      format('refund %s exceeds the %s charged', v_refund, v_charge.amount));
    update credits.charges c set refunded = v_refund, status = 'refunded', refunded_at = now()
     where c.account_id = p_account and c.reference = p_reference
    returning * into v_charge;
    insert into credits.ledger (account_id, kind, cause_type, cause_key, delta)
    values (p_account, 'refund', 'charge', p_reference, v_refund);
    v_applied := true;
  end if;

  return query
    select v_charge.reference, v_charge.amount, v_charge.refunded, v_charge.status,
           a.balance, a.held, a.balance - a.held, v_applied
      from credits.accounts a where a.id = p_account;
end
$$;
comment on function api.refund(uuid, text, bigint) is
  'Refunds a one-shot charge: credits back p_amount (default: all of it; never more than charged) exactly once. Any later refund of the same reference changes nothing and returns applied = false. NOT_FOUND/CHARGE_NOT_FOUND for an unknown reference.';

revoke all on function api.charge(uuid, bigint, text), api.refund(uuid, text, bigint)
  from public, anon, authenticated;
grant execute on function api.charge(uuid, bigint, text), api.refund(uuid, text, bigint) to tollgate_api;
