-- =============================================================================
-- api: one-shot charges and their refunds (calls without a job, e.g. an image generation):
-- charge atomically BEFORE the upstream call, refund exactly once if it fails.
--   charge  account lock -> available check -> ledger 'charge' (-amount), keyed by reference
--   refund  account lock -> the charge row -> ledger 'refund' (+amount <= charged), keyed by
--           the same reference: unique, so at most once; the ledger trigger refuses a refund
--           without a charge or above it, even for the owner writing rows by hand
-- The ledger rows ARE the charge records (no second table to keep in step, one insert per
-- charge). Both are idempotent by (account, reference); see error codes in 20261124000210.
-- =============================================================================

-- The charge and refund rows of one reference, for replies and replays.
create function credits.charge_state(p_account uuid, p_reference text,
  out charged bigint, out refunded bigint)
returns record
language sql
stable
as $$
  select -c.delta, coalesce(r.delta, 0)
    from credits.ledger c
    left join credits.ledger r
      on r.account_id = c.account_id and r.kind = 'refund' and r.cause_key = c.cause_key
   where c.account_id = p_account and c.kind = 'charge' and c.cause_key = p_reference
$$;
comment on function credits.charge_state(uuid, text) is
  'The amount charged and refunded (0 if none) for a one-shot charge reference of the account; nulls when there is no such charge.';

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
  v_balance bigint;
  v_held bigint;
  v_expired boolean;
  v_charged bigint;
  v_refunded bigint;
begin
  -- Hot path (the benchmark's "one-shot charge"): validation inline, ONE statement that locks
  -- the account, ONE ledger insert (its trigger chains the row and moves the balance); the
  -- reply is computed from what we know under the lock, no re-read.
  if p_amount is null or p_amount < 1 or p_amount > 1000000000000 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'amount must be 1..1e12';
  end if;
  if p_reference is null or length(p_reference) not between 1 and 255 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'reference must be 1..255 chars';
  end if;

  -- credits.lock_account, inlined (see there for the expired-hold probe).
  select a.balance, a.held,
         a.held > 0 and exists (
           select 1 from credits.jobs j
            where j.account_id = a.id and j.status = 'pending' and j.expires_at <= now())
    into v_balance, v_held, v_expired
    from credits.accounts a where a.id = p_account
     for no key update;
  if not found then
    raise exception using errcode = 'P0001', message = 'NOT_FOUND', detail = 'ACCOUNT_NOT_FOUND';
  end if;
  if v_expired then
    perform credits.settle_expired_jobs(p_account);
    select a.balance, a.held into v_balance, v_held from credits.accounts a where a.id = p_account;
  end if;

  if v_balance - v_held >= p_amount then
    -- The NOT EXISTS reads with this statement's snapshot, taken after we got the account
    -- lock: it sees every charge of the account committed before us (all of them hold that
    -- lock), so a duplicate is a replay below, never a unique violation.
    insert into credits.ledger (account_id, kind, cause_type, cause_key, delta)
    select p_account, 'charge', 'charge', p_reference, -p_amount
     where not exists (select 1 from credits.ledger l
                        where l.account_id = p_account and l.kind = 'charge' and l.cause_key = p_reference)
    returning balance_after into balance;
    if found then
      reference := p_reference;
      amount := p_amount;
      refunded := 0;
      status := 'charged';
      held := v_held;
      available := balance - v_held;
      applied := true;
      return next;
      return;
    end if;
  end if;

  -- Either a repeat of an earlier charge (idempotent) or not enough credits.
  select s.charged, s.refunded into v_charged, v_refunded from credits.charge_state(p_account, p_reference) s;
  if v_charged is null then
    raise exception using errcode = 'P0001', message = 'INSUFFICIENT_CREDITS',
      detail = format('available %s, requested %s', v_balance - v_held, p_amount);
  end if;
  if v_charged <> p_amount then
    raise exception using errcode = 'P0001', message = 'IDEMPOTENCY_KEY_REUSED',
      detail = 'this charge reference was used with a different amount';
  end if;
  reference := p_reference;
  amount := v_charged;
  refunded := v_refunded;
  status := case when v_refunded > 0 then 'refunded' else 'charged' end;
  balance := v_balance;
  held := v_held;
  available := v_balance - v_held;
  applied := false;
  return next;
end
$$;
comment on function api.charge(uuid, bigint, text) is
  'One-shot charge: debits p_amount from available at once (INSUFFICIENT_CREDITS, nothing changed, when short). At most once per (account, p_reference): a repeat with the same amount returns the charge with applied = false (status refunded once refunded); another amount raises IDEMPOTENCY_KEY_REUSED.';

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
  v_account credits.accounts;
  v_charged bigint;
  v_refunded bigint;
begin
  perform credits.require(p_amount is null or p_amount >= 1, 'amount must be >= 1');
  v_account := credits.lock_account(p_account);
  select s.charged, s.refunded into v_charged, v_refunded from credits.charge_state(p_account, p_reference) s;
  if v_charged is null then
    raise exception using errcode = 'P0001', message = 'NOT_FOUND', detail = 'CHARGE_NOT_FOUND';
  end if;

  applied := false;
  if v_refunded = 0 then
    v_refunded := coalesce(p_amount, v_charged);
    perform credits.require(v_refunded <= v_charged,
      format('refund %s exceeds the %s charged', v_refunded, v_charged));
    insert into credits.ledger (account_id, kind, cause_type, cause_key, delta)
    values (p_account, 'refund', 'charge', p_reference, v_refunded)
    returning balance_after into v_account.balance;
    applied := true;
  end if;

  reference := p_reference;
  amount := v_charged;
  refunded := v_refunded;
  status := 'refunded';
  balance := v_account.balance;
  held := v_account.held;
  available := v_account.balance - v_account.held;
  return next;
end
$$;
comment on function api.refund(uuid, text, bigint) is
  'Refunds a one-shot charge: credits back p_amount (default: all of it; never more than charged) exactly once. Any later refund of the same reference changes nothing and returns applied = false. NOT_FOUND/CHARGE_NOT_FOUND for an unknown reference.';

revoke all on function credits.charge_state(uuid, text) from public, anon, authenticated;
revoke all on function api.charge(uuid, bigint, text), api.refund(uuid, text, bigint)
  from public, anon, authenticated;
grant execute on function api.charge(uuid, bigint, text), api.refund(uuid, text, bigint) to tollgate_api;
