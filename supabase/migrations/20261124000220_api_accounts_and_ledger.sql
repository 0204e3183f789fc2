-- =============================================================================
-- api: accounts, balances, ledger pages, grants and ledger-chain verification.
-- All api functions: security definer (run as the table owner), set search_path = '',
-- EXECUTE for tollgate_api only. The account id is always an explicit argument: the Edge
-- Function verified the JWT and passes its sub; the database trusts tollgate_api for that.
-- Error codes: see the comment block in 20261124000210_credits_internals.sql.
-- bigint columns arrive in postgres.js as strings unless cast or a bigint type parser is set.
-- =============================================================================

-- ensure_account -------------------------------------------------------------------------------
-- Exactly-once initial grant under concurrent first calls: the INSERT ... ON CONFLICT DO NOTHING
-- on the primary key lets exactly one transaction create the row (a concurrent one waits for it
-- and then does nothing); only the creator writes the initial_grant ledger row, whose unique
-- cause key (account id) is the backstop. (ON CONFLICT is fine on accounts: its insert trigger
-- only validates, it has no side effect.) Other api functions compose this into their single
-- round trip, so the common case, an existing account, is one plain read.
create function api.ensure_account(p_account uuid, p_initial_grant integer default 3)
returns table (balance bigint, held bigint, available bigint, created boolean)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
begin
  if p_account is null then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'account is required';
  end if;
  if p_initial_grant is null or p_initial_grant not between 0 and 1000000 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'initial grant must be 0..1000000';
  end if;

  select a.balance, a.held, a.balance - a.held, false into balance, held, available, created
    from credits.accounts a where a.id = p_account;
  if found then
    return next;
    return;
  end if;

  insert into credits.accounts (id) values (p_account) on conflict (id) do nothing;
  created := found;
  if created and p_initial_grant > 0 then
    insert into credits.ledger (account_id, kind, cause_type, cause_key, reason, delta)
    values (p_account, 'initial_grant', 'account', p_account::text, 'initial_grant', p_initial_grant);
  end if;

  select a.balance, a.held, a.balance - a.held into balance, held, available
    from credits.accounts a where a.id = p_account;
  return next;
end
$$;
comment on function api.ensure_account(uuid, integer) is
  'Creates the account on its first call with p_initial_grant credits (ledger kind initial_grant, exactly once, also under concurrent first calls); later calls change nothing. Returns (balance, held, available, created).';

-- balance --------------------------------------------------------------------------------------
create function api.balance(p_account uuid)
returns table (balance bigint, held bigint, available bigint)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
begin
  -- Lazy expiry: release expired holds before reporting (locks the account only when needed).
  if exists (select 1 from credits.jobs j
              where j.account_id = p_account and j.status = 'pending' and j.expires_at <= now()) then
    perform credits.lock_account(p_account);
  end if;
  return query
    select coalesce(a.balance, 0), coalesce(a.held, 0), coalesce(a.balance - a.held, 0)
      from (select 1) one
      left join credits.accounts a on a.id = p_account;
end
$$;
comment on function api.balance(uuid) is
  'Returns (balance, held, available) of the account; zeros when it does not exist yet. Settles the account''s expired holds first, so held never includes an expired job.';

-- ledger_page ----------------------------------------------------------------------------------
create function api.ledger_page(p_account uuid, p_limit integer default 50, p_cursor bigint default null)
returns table (
  id bigint, kind text, delta bigint, balance_after bigint, cause_type text, cause_key text,
  reason text, created_at timestamptz, hash text)
language plpgsql
stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
begin
  perform credits.require(p_limit between 1 and 1000, 'limit must be 1..1000');
  perform credits.require(p_cursor is null or p_cursor > 0, 'cursor must be a positive ledger id');
  -- Keyset on id, walked through the (account_id, seq) index: within an account id and seq
  -- grow together, so "id < cursor" is "seq < the cursor row's seq".
  return query
    select l.id, l.kind, l.delta, l.balance_after, l.cause_type, l.cause_key, l.reason, l.created_at, l.hash
      from credits.ledger l
     where l.account_id = p_account
       and (p_cursor is null
            or l.seq < coalesce((select c.seq from credits.ledger c where c.id = p_cursor and c.account_id = p_account),
                                (select coalesce(max(c.seq), 0) + 1 from credits.ledger c
                                  where c.account_id = p_account and c.id < p_cursor)))
     order by l.seq desc
     limit p_limit;
end
$$;
comment on function api.ledger_page(uuid, integer, bigint) is
  'The account''s ledger rows newest first, at most p_limit (1..1000), with id < p_cursor when given (keyset). Callers ask for limit + 1 rows to know whether a next page exists; nextCursor = the last returned id.';

-- grant ----------------------------------------------------------------------------------------
create function api.grant(p_account uuid, p_amount bigint, p_reason text, p_reference text)
returns table (ledger_id bigint, amount bigint, balance bigint, held bigint, available bigint, applied boolean)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_row credits.ledger;
  v_applied boolean := false;
begin
  perform credits.require(p_amount between 1 and 1000000000000, 'amount must be 1..1e12');
  perform credits.require(p_reason ~ '^[a-z][a-z0-9_]{0,31}$', 'reason must be lower snake case, <= 32 chars');
  perform credits.require(length(p_reference) between 1 and 255, 'reference must be 1..255 chars');

  perform credits.lock_account(p_account);
  select l.* into v_row from credits.ledger l
   where l.account_id = p_account and l.kind = 'grant' and l.cause_key = p_reference;
  if found then
    if v_row.delta <> p_amount or v_row.reason <> p_reason then
      raise exception using errcode = 'P0001', message = 'IDEMPOTENCY_KEY_REUSED',
        detail = 'this grant reference was already applied with a different amount or reason';
    end if;
  else
    insert into credits.ledger (account_id, kind, cause_type, cause_key, reason, delta)
    values (p_account, 'grant', 'grant', p_reference, p_reason, p_amount)
    returning * into v_row;
    v_applied := true;
  end if;

  return query
    select v_row.id, v_row.delta, a.balance, a.held, a.balance - a.held, v_applied
      from credits.accounts a where a.id = p_account;
end
$$;
comment on function api.grant(uuid, bigint, text, text) is
  'Credits p_amount to an existing account for p_reason (promo, purchase, review, admin, ...) at most once per (account, p_reference): a repeat with the same amount and reason returns the original row with applied = false; different parameters raise IDEMPOTENCY_KEY_REUSED. Namespace references by source (''appstore:<transactionId>'', ''promo:<code>'').';

-- chain verification ---------------------------------------------------------------------------
create function credits.verify_chain(p_account uuid)
returns table (ok boolean, rows_checked bigint, first_bad_id bigint, problem text)
language sql
stable
set search_path = ''
as $$
  with chain as (
    select l.*,
           lag(l.seq) over w as prev_seq,
           lag(l.hash) over w as prev_row_hash,
           lag(l.balance_after) over w as prev_balance_after
      from credits.ledger l
     where l.account_id = p_account
    window w as (order by l.seq)
  ),
  checked as (
    select c.id, c.seq, c.balance_after, c.hash,
           case
             when c.seq <> coalesce(c.prev_seq, 0) + 1 then 'a row before this one is missing (seq gap)'
             when c.prev_hash <> coalesce(c.prev_row_hash, repeat('0', 64)) then 'prev_hash does not match the previous row''s hash'
             when c.balance_after <> coalesce(c.prev_balance_after, 0) + c.delta then 'balance_after is not the running sum of delta'
             when c.hash <> credits.ledger_row_hash(c.id, c.account_id, c.seq, c.kind, c.cause_type, c.cause_key,
                                                    c.reason, c.delta, c.balance_after, c.created_at, c.prev_hash)
               then 'hash does not match the row''s content'
           end as problem
      from chain c
  ),
  first_bad as (
    select k.id, k.problem from checked k where k.problem is not null order by k.seq limit 1
  ),
  tail as (
    select count(*) as n,
           (array_agg(k.balance_after order by k.seq desc))[1] as last_balance,
           max(k.seq) as last_seq,
           (array_agg(k.hash order by k.seq desc))[1] as last_hash
      from checked k
  ),
  cached as (
    select a.balance,
           a.held,
           a.chain_seq,
           a.chain_hash,
           (select coalesce(sum(j.amount), 0) from credits.jobs j
             where j.account_id = p_account and j.status = 'pending') as pending_amount
      from credits.accounts a where a.id = p_account
  )
  select (fb.id is null and cached_problem is null),
         t.n,
         fb.id,
         coalesce(fb.problem, cached_problem)
    from tail t
    left join first_bad fb on true
    left join cached c on true
    cross join lateral (
      select case
               when c.balance is null then null
               when c.balance <> coalesce(t.last_balance, 0) then 'accounts.balance differs from the ledger''s last balance_after'
               when c.chain_seq <> coalesce(t.last_seq, 0) or c.chain_hash <> coalesce(t.last_hash, repeat('0', 64))
                 then 'accounts chain head differs from the ledger''s last row'
               when c.held <> c.pending_amount then 'accounts.held differs from the sum of pending job amounts'
             end as cached_problem
    ) x
$$;
comment on function credits.verify_chain(uuid) is
  'Walks one account''s ledger in seq order and reports the first row whose seq, prev_hash, running balance or hash is wrong, then whether accounts.balance, the chain head (chain_seq, chain_hash) and held match the ledger and pending jobs.';

create function api.verify_ledger_chain(p_account uuid)
returns table (ok boolean, rows_checked bigint, first_bad_id bigint, problem text)
language sql
stable
security definer
set search_path = ''
as $$
  select v.ok, v.rows_checked, v.first_bad_id, v.problem from credits.verify_chain(p_account) v
$$;
comment on function api.verify_ledger_chain(uuid) is
  'Verifies one account''s hash chain and cached totals: ok, rows checked, the first bad ledger id (null if the chain is intact) and the problem.';

create function ops.verify_ledger_chains()
returns table (account_id uuid, ok boolean, rows_checked bigint, first_bad_id bigint, problem text)
language sql
stable
security definer
set search_path = ''
as $$
  select a.id, v.ok, v.rows_checked, v.first_bad_id, v.problem
    from credits.accounts a
   cross join lateral credits.verify_chain(a.id) v
   order by v.ok, a.id
$$;
comment on function ops.verify_ledger_chains() is
  'Operators: verifies every account''s ledger chain and cached totals; broken accounts sort first. `select * from ops.verify_ledger_chains() where not ok` should return nothing.';

revoke all on function
  api.ensure_account(uuid, integer), api.balance(uuid), api.ledger_page(uuid, integer, bigint),
  api.grant(uuid, bigint, text, text), api.verify_ledger_chain(uuid),
  credits.verify_chain(uuid), ops.verify_ledger_chains()
from public, anon, authenticated;
grant execute on function
  api.ensure_account(uuid, integer), api.balance(uuid), api.ledger_page(uuid, integer, bigint),
  api.grant(uuid, bigint, text, text), api.verify_ledger_chain(uuid)
to tollgate_api;
