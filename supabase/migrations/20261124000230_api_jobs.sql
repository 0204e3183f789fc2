-- =============================================================================
-- api: two-phase jobs (holds). See the accounting model at the top of
-- 20261124000200_credits_tables.sql and the error codes in 20261124000210_credits_internals.sql.
--
--   start_job     account lock -> insert pending job (hold counts against available)
--   get_job       read (status reports 'expired' for a pending job past expiry)
--   authorize_job read: token (digest compare) + device + pending + unexpired
--   spend_on_job  job lock only: spent += amount within the hold, once per reference
--   unspend_on_job job lock only: give a spend back, once per reference, while pending
--   extend_job    account lock -> job lock: amount += x if available allows; expires_at += ttl
--   commit_job    account lock -> job lock: debit actual (spent..amount, default amount) once
--   cancel_job    account lock -> job lock: debit spent (if any) once, release the rest
--   expire_jobs   per account (skip locked) -> jobs: debit spent, release the rest; pg_cron/min
-- =============================================================================

-- start_job ------------------------------------------------------------------------------------
-- Hot path (the benchmark's "start"): inline validation, ONE statement that locks the account and
-- probes for expired holds, ONE insert (its trigger adds the hold to accounts.held); the result
-- is computed from what we already know under the lock instead of re-reading the account.
create function api.start_job(
  p_account uuid, p_amount bigint, p_ttl_seconds integer, p_device_id text,
  p_idempotency_key text, p_token_hash bytea)
returns table (
  job_id uuid, status text, amount bigint, spent bigint, expires_at timestamptz, created_at timestamptz,
  balance bigint, held bigint, available bigint, replayed boolean)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_balance bigint;
  v_held bigint;
  v_expired boolean;
  v_job credits.jobs;
begin
  if p_amount is null or p_amount not between 1 and 1000000000000 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'amount must be 1..1e12';
  end if;
  if p_ttl_seconds is null or p_ttl_seconds not between 1 and 86400 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'ttl must be 1..86400 seconds';
  end if;
  if p_token_hash is null or octet_length(p_token_hash) <> 32 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'token hash must be 32 bytes (SHA-256)';
  end if;
  if p_device_id is not null and length(p_device_id) not between 1 and 200 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'device id must be 1..200 chars';
  end if;
  if p_idempotency_key is not null and length(p_idempotency_key) not between 1 and 255 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'idempotency key must be 1..255 chars';
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

  -- A retried start (same key) returns the job it created; the account lock serialises
  -- concurrent duplicates, so the second one sees the first's committed job here.
  if p_idempotency_key is not null then
    select j.* into v_job from credits.jobs j
     where j.account_id = p_account and j.idempotency_key = p_idempotency_key;
    if found then
      if v_job.initial_amount <> p_amount or v_job.ttl_seconds <> p_ttl_seconds
         or v_job.device_id is distinct from p_device_id then
        raise exception using errcode = 'P0001', message = 'IDEMPOTENCY_KEY_REUSED',
          detail = 'this idempotency key started a job with different parameters';
      end if;
      job_id := v_job.id;
      status := case when v_job.status = 'pending' and v_job.expires_at <= now() then 'expired' else v_job.status end;
      amount := v_job.amount;
      spent := v_job.spent;
      expires_at := v_job.expires_at;
      created_at := v_job.created_at;
      balance := v_balance;
      held := v_held;
      available := v_balance - v_held;
      replayed := true;
      return next;
      return;
    end if;
  end if;

  if v_balance - v_held < p_amount then
    raise exception using errcode = 'P0001', message = 'INSUFFICIENT_CREDITS',
      detail = format('available %s, requested %s', v_balance - v_held, p_amount);
  end if;
  insert into credits.jobs (account_id, amount, initial_amount, ttl_seconds, expires_at,
                            token_hash, device_id, idempotency_key)
  values (p_account, p_amount, p_amount, p_ttl_seconds, now() + make_interval(secs => p_ttl_seconds),
          p_token_hash, p_device_id, p_idempotency_key)
  returning id, expires_at, created_at into job_id, expires_at, created_at;

  status := 'pending';
  amount := p_amount;
  spent := 0;
  balance := v_balance;
  held := v_held + p_amount;   -- the jobs trigger added exactly this hold, under our lock
  available := v_balance - v_held - p_amount;
  replayed := false;
  return next;
end
$$;
comment on function api.start_job(uuid, bigint, integer, text, text, bytea) is
  'Holds p_amount credits for a new pending job expiring in p_ttl_seconds, bound to p_device_id when given; p_token_hash = SHA-256 of the job token. INSUFFICIENT_CREDITS (nothing changed) when available < amount. With p_idempotency_key: a repeat with the same amount, ttl and device returns the existing job (replayed = true; its original token stays valid, p_token_hash is ignored); different parameters raise IDEMPOTENCY_KEY_REUSED.';

-- get_job --------------------------------------------------------------------------------------
create function api.get_job(p_account uuid, p_job_id uuid)
returns table (
  job_id uuid, status text, amount bigint, spent bigint, remaining bigint, debited bigint,
  expires_at timestamptz, created_at timestamptz, settled_at timestamptz, device_bound boolean)
language plpgsql
stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
begin
  return query
    select j.id,
           case when j.status = 'pending' and j.expires_at <= now() then 'expired' else j.status end,
           j.amount, j.spent,
           case when j.status = 'pending' and j.expires_at > now() then j.amount - j.spent else 0::bigint end,
           j.debited, j.expires_at, j.created_at, j.settled_at, j.device_id is not null
      from credits.jobs j
     where j.id = p_job_id and j.account_id = p_account;
  if not found then
    raise exception using errcode = 'P0001', message = 'JOB_NOT_FOUND', detail = 'no such job';
  end if;
end
$$;
comment on function api.get_job(uuid, uuid) is
  'The account''s job: status (''expired'' as soon as a pending job is past expiry, even before it is settled), amount held, spent, remaining (0 unless usable), debited (after settlement), times, device_bound. JOB_NOT_FOUND for a missing or another account''s job.';

-- authorize_job --------------------------------------------------------------------------------
create function api.authorize_job(p_account uuid, p_job_id uuid, p_token_hash bytea, p_device_id text default null)
returns table (job_id uuid, amount bigint, spent bigint, remaining bigint, expires_at timestamptz)
language plpgsql
stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_job credits.jobs;
begin
  select j.* into v_job from credits.jobs j where j.id = p_job_id and j.account_id = p_account;
  if not found then
    raise exception using errcode = 'P0001', message = 'JOB_NOT_FOUND', detail = 'no such job';
  end if;
  perform credits.assert_job_token(v_job, p_token_hash, p_device_id);
  perform credits.assert_job_pending(v_job);
  return query select v_job.id, v_job.amount, v_job.spent, v_job.amount - v_job.spent, v_job.expires_at;
end
$$;
comment on function api.authorize_job(uuid, uuid, bytea, text) is
  'Checks that the presented job token (SHA-256 in p_token_hash) and device may use the account''s job now: JOB_NOT_FOUND, UNAUTHORIZED (detail JOB_TOKEN_INVALID | JOB_DEVICE_MISMATCH), JOB_EXPIRED, JOB_NOT_PENDING, in that order. Read-only: spend_on_job re-checks under the job lock.';

-- spend_on_job ---------------------------------------------------------------------------------
create function api.spend_on_job(
  p_account uuid, p_job_id uuid, p_amount bigint, p_reference text,
  p_token_hash bytea default null, p_device_id text default null)
returns table (job_id uuid, spent bigint, remaining bigint, expires_at timestamptz, applied boolean)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_job credits.jobs;
  v_spend credits.job_spends;
begin
  perform credits.require(p_amount between 1 and 1000000000000, 'amount must be 1..1e12');
  perform credits.require(length(p_reference) between 1 and 255, 'reference must be 1..255 chars');

  v_job := credits.lock_job(p_account, p_job_id);
  if p_token_hash is not null then
    perform credits.assert_job_token(v_job, p_token_hash, p_device_id);
  end if;

  select s.* into v_spend from credits.job_spends s where s.job_id = p_job_id and s.reference = p_reference;
  if found then
    if v_spend.amount <> p_amount then
      raise exception using errcode = 'P0001', message = 'IDEMPOTENCY_KEY_REUSED',
        detail = 'this spend reference was recorded with a different amount';
    end if;
    return query select v_job.id, v_job.spent,
      case when v_job.status = 'pending' then v_job.amount - v_job.spent else 0::bigint end, v_job.expires_at, false;
    return;
  end if;

  perform credits.assert_job_pending(v_job);
  if v_job.spent + p_amount > v_job.amount then
    raise exception using errcode = 'P0001', message = 'INSUFFICIENT_CREDITS',
      detail = format('the job has %s credits left, requested %s', v_job.amount - v_job.spent, p_amount);
  end if;

  insert into credits.job_spends (job_id, reference, amount) values (p_job_id, p_reference, p_amount);
  update credits.jobs j set spent = j.spent + p_amount where j.id = p_job_id returning j.* into v_job;
  return query select v_job.id, v_job.spent, v_job.amount - v_job.spent, v_job.expires_at, true;
end
$$;
comment on function api.spend_on_job(uuid, uuid, bigint, text, bytea, text) is
  'Consumes p_amount of a pending, unexpired job''s remaining hold (amount - spent) before an AI call; INSUFFICIENT_CREDITS above the remaining hold. Locks only the job row (the credits are already held; no ledger row until settlement). At most once per (job, p_reference): a repeat with the same amount returns applied = false; another amount raises IDEMPOTENCY_KEY_REUSED. With p_token_hash the job token/device are checked too.';

-- unspend_on_job -------------------------------------------------------------------------------
create function api.unspend_on_job(p_account uuid, p_job_id uuid, p_reference text, p_amount bigint default null)
returns table (job_id uuid, spent bigint, remaining bigint, unspent bigint, applied boolean)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_job credits.jobs;
  v_spend credits.job_spends;
  v_amount bigint;
begin
  v_job := credits.lock_job(p_account, p_job_id);
  select s.* into v_spend from credits.job_spends s
   where s.job_id = p_job_id and s.reference = p_reference
     for no key update;
  if not found then
    raise exception using errcode = 'P0001', message = 'NOT_FOUND', detail = 'SPEND_NOT_FOUND';
  end if;
  if v_spend.unspent_at is not null then
    return query select v_job.id, v_job.spent,
      case when v_job.status = 'pending' then v_job.amount - v_job.spent else 0::bigint end, v_spend.unspent, false;
    return;
  end if;

  v_amount := coalesce(p_amount, v_spend.amount);
  perform credits.require(v_amount between 1 and v_spend.amount, format('amount must be 1..%s (the spend)', v_spend.amount));
  -- Allowed while pending even past expiry: it only lowers what expiry will debit.
  if v_job.status <> 'pending' then
    raise exception using errcode = 'P0001', message = 'JOB_NOT_PENDING', detail = format('the job is %s', v_job.status);
  end if;

  update credits.job_spends s set unspent = v_amount, unspent_at = now()
   where s.job_id = p_job_id and s.reference = p_reference;
  update credits.jobs j set spent = j.spent - v_amount where j.id = p_job_id returning j.* into v_job;
  return query select v_job.id, v_job.spent, v_job.amount - v_job.spent, v_amount, true;
end
$$;
comment on function api.unspend_on_job(uuid, uuid, text, bigint) is
  'Gives back p_amount (default all) of a spend whose AI call failed or cost less, at most once per (job, reference), while the job is pending (also past expiry, before settlement). Repeats return applied = false. NOT_FOUND/SPEND_NOT_FOUND, JOB_NOT_PENDING, VALIDATION_FAILED.';

-- extend_job -----------------------------------------------------------------------------------
create function api.extend_job(p_account uuid, p_job_id uuid, p_add_amount bigint default 0, p_add_ttl_seconds integer default 0)
returns table (
  job_id uuid, amount bigint, spent bigint, expires_at timestamptz,
  balance bigint, held bigint, available bigint)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_account credits.accounts;
  v_job credits.jobs;
begin
  perform credits.require(p_add_amount between 0 and 1000000000000, 'amount must be 0..1e12');
  perform credits.require(p_add_ttl_seconds between 0 and 86400, 'ttl must be 0..86400 seconds');
  perform credits.require(p_add_amount > 0 or p_add_ttl_seconds > 0, 'nothing to extend');

  v_account := credits.lock_account(p_account);
  v_job := credits.lock_job(p_account, p_job_id);
  perform credits.assert_job_pending(v_job);
  perform credits.require(v_job.expires_at + make_interval(secs => p_add_ttl_seconds) <= v_job.created_at + interval '24 hours',
                          'a job cannot live longer than 24 hours');
  if v_account.balance - v_account.held < p_add_amount then
    raise exception using errcode = 'P0001', message = 'INSUFFICIENT_CREDITS',
      detail = format('available %s, requested %s more', v_account.balance - v_account.held, p_add_amount);
  end if;

  update credits.jobs j
     set amount = j.amount + p_add_amount,
         expires_at = j.expires_at + make_interval(secs => p_add_ttl_seconds)
   where j.id = p_job_id
  returning j.* into v_job;

  return query
    select v_job.id, v_job.amount, v_job.spent, v_job.expires_at, a.balance, a.held, a.balance - a.held
      from credits.accounts a where a.id = p_account;
end
$$;
comment on function api.extend_job(uuid, uuid, bigint, integer) is
  'Atomically adds p_add_amount to a pending, unexpired job''s hold (INSUFFICIENT_CREDITS, nothing changed, if available is short) and/or p_add_ttl_seconds to its expiry (job lifetime <= 24 h). An expired job cannot be revived (JOB_EXPIRED).';

-- commit_job / cancel_job ----------------------------------------------------------------------
-- commit_job is a hot path (the benchmark's "commit"): one statement locks the account (and
-- probes for expired holds), ONE guarded UPDATE settles the job (it only matches a pending,
-- unexpired job of this account whose hold covers the amount; its trigger releases the hold),
-- and one ledger insert debits. Only when the UPDATE matches nothing do we look at the job to
-- say why, in the documented order.
create function api.commit_job(p_account uuid, p_job_id uuid, p_amount bigint default null)
returns table (
  job_id uuid, status text, amount bigint, spent bigint, debited bigint, released bigint,
  balance bigint, held bigint, available bigint)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_balance bigint;
  v_held bigint;
  v_expired boolean;
  v_job credits.jobs;
  v_actual bigint;
begin
  if p_amount < 0 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'amount must be >= 0';
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

  -- Settle: lock (row lock of the UPDATE) + checks + state change in one statement.
  update credits.jobs j
     set status = 'committed', debited = coalesce(p_amount, j.amount), settled_at = now()
   where j.id = p_job_id and j.account_id = p_account
     and j.status = 'pending' and j.expires_at > now()
     and coalesce(p_amount, j.amount) between j.spent and j.amount
  returning j.id, j.amount, j.spent, j.debited into job_id, amount, spent, debited;
  if not found then
    v_job := credits.lock_job(p_account, p_job_id);          -- JOB_NOT_FOUND
    perform credits.assert_job_pending(v_job);               -- JOB_EXPIRED | JOB_NOT_PENDING
    v_actual := coalesce(p_amount, v_job.amount);
    if v_actual > v_job.amount then
      raise exception using errcode = 'P0001', message = 'INSUFFICIENT_CREDITS',
        detail = format('the job holds %s, commit asked for %s; extend it first', v_job.amount, v_actual);
    end if;
    perform credits.require(v_actual >= v_job.spent,
      format('commit amount %s is below the %s already spent on this job', v_actual, v_job.spent));
    raise exception using errcode = 'P0001', message = 'JOB_NOT_PENDING', detail = 'the job was settled concurrently';
  end if;

  if debited > 0 then
    insert into credits.ledger (account_id, kind, cause_type, cause_key, delta)
    values (p_account, 'job_debit', 'job', p_job_id::text, -debited)
    returning balance_after into v_balance;
  end if;

  status := 'committed';
  released := amount - debited;
  balance := v_balance;
  held := v_held - amount;     -- the jobs trigger released exactly this hold, under our lock
  available := v_balance - v_held + amount;
  return next;
end
$$;
comment on function api.commit_job(uuid, uuid, bigint) is
  'Settles a pending, unexpired job: debits p_amount (default: the whole hold; must be >= spent and <= amount) in one job_debit ledger row, exactly once, and releases the rest. JOB_NOT_FOUND, JOB_EXPIRED, JOB_NOT_PENDING, INSUFFICIENT_CREDITS (above the hold), VALIDATION_FAILED (below spent).';

create function api.cancel_job(p_account uuid, p_job_id uuid)
returns table (
  job_id uuid, status text, amount bigint, spent bigint, debited bigint, released bigint,
  balance bigint, held bigint, available bigint)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_job credits.jobs;
begin
  perform credits.lock_account(p_account);
  v_job := credits.lock_job(p_account, p_job_id);
  perform credits.assert_job_pending(v_job);
  v_job := credits.settle_job(p_job_id, 'cancelled', v_job.spent);
  return query
    select v_job.id, v_job.status, v_job.amount, v_job.spent, v_job.debited, v_job.amount - v_job.debited,
           a.balance, a.held, a.balance - a.held
      from credits.accounts a where a.id = p_account;
end
$$;
comment on function api.cancel_job(uuid, uuid) is
  'Settles a pending, unexpired job as cancelled: debits what was already spent on it (usually 0) and releases the rest, exactly once. JOB_NOT_FOUND, JOB_EXPIRED, JOB_NOT_PENDING.';

-- expire_jobs ----------------------------------------------------------------------------------
create function api.expire_jobs(p_max_accounts integer default 10000)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_account uuid;
  v_count integer := 0;
begin
  for v_account in
    select distinct j.account_id from credits.jobs j
     where j.status = 'pending' and j.expires_at <= now()
     limit p_max_accounts
  loop
    -- Account first (lock order). A busy account is skipped, not waited for: whoever holds its
    -- lock settles its expired jobs lazily, and the next run retries.
    perform 1 from credits.accounts a where a.id = v_account for no key update skip locked;
    if found then
      v_count := v_count + credits.settle_expired_jobs(v_account);
    end if;
  end loop;
  return v_count;
end
$$;
comment on function api.expire_jobs(integer) is
  'Settles every pending job past expiry (debit what was spent, release the rest), account by account with SKIP LOCKED; returns the number of jobs expired. Scheduled every minute by pg_cron as tollgate-expire-holds.';

revoke all on function
  api.start_job(uuid, bigint, integer, text, text, bytea), api.get_job(uuid, uuid),
  api.authorize_job(uuid, uuid, bytea, text), api.spend_on_job(uuid, uuid, bigint, text, bytea, text),
  api.unspend_on_job(uuid, uuid, text, bigint), api.extend_job(uuid, uuid, bigint, integer),
  api.commit_job(uuid, uuid, bigint), api.cancel_job(uuid, uuid), api.expire_jobs(integer)
from public, anon, authenticated;
grant execute on function
  api.start_job(uuid, bigint, integer, text, text, bytea), api.get_job(uuid, uuid),
  api.authorize_job(uuid, uuid, bytea, text), api.spend_on_job(uuid, uuid, bigint, text, bytea, text),
  api.unspend_on_job(uuid, uuid, text, bigint), api.extend_job(uuid, uuid, bigint, integer),
  api.commit_job(uuid, uuid, bigint), api.cancel_job(uuid, uuid), api.expire_jobs(integer)
to tollgate_api;

-- Scheduled every minute as 'tollgate-expire-holds' (20261124000590_cron_schedules.sql).
