-- =============================================================================
-- Internal building blocks shared by the api.* functions (not callable by any client role).
-- =============================================================================
--
-- ERROR CODES raised by credits.* and api.* functions (errcode P0001; `message` is the code,
-- `detail` is human text or a sub-code). functions/_shared/db maps message -> HTTP status:
--   VALIDATION_FAILED       400  an argument is out of range / malformed (detail says which)
--   UNAUTHORIZED            401  job token or device check failed;
--                                detail = 'JOB_TOKEN_INVALID' | 'JOB_DEVICE_MISMATCH'
--   INSUFFICIENT_CREDITS    402  available < requested, or a job's remaining hold < requested
--   NOT_FOUND               404  detail = 'ACCOUNT_NOT_FOUND' | 'CHARGE_NOT_FOUND' | 'SPEND_NOT_FOUND'
--   JOB_NOT_FOUND           404  no such job FOR THIS ACCOUNT (another account's job looks the same)
--   JOB_NOT_PENDING         409  the job is already committed or cancelled
--   JOB_EXPIRED             410  the job is past expires_at (settled as expired or not yet)
--   IDEMPOTENCY_KEY_REUSED  422  same idempotency key / reference, different parameters
--   IDEMPOTENCY_KEY_IN_USE  409  same idempotency key while the first request is still running
-- Integrity guards (never expected from the api; map to 500):
--   LEDGER_IS_APPEND_ONLY, ACCOUNT_TOTALS_ARE_DERIVED, JOB_STATE_INVALID, REFUND_EXCEEDS_CHARGE,
--   ACCOUNT_NOT_FOUND with errcode 23503 (a ledger/job row for an account that does not exist)
--
-- None of these helpers is security definer and none has `SET search_path`: they run inside
-- the api.* functions (search_path '') and qualify every name; a SET clause would cost a GUC
-- save/restore on every call (see PERFORMANCE NOTES in 20261124000200_credits_tables.sql).
-- The hottest api functions (charge, start_job, commit_job) inline the account lock below as
-- one statement instead of calling credits.lock_account.
-- =============================================================================

-- Locks the account row (lock order: ACCOUNT FIRST), settles its pending jobs that are past
-- expiry (lazy expiry: available is exact before any check), and returns the fresh row.
-- Only an account that holds something can have expired holds, so the probe is skipped
-- otherwise; the probe runs in the locking statement (no second round through the executor).
-- Its snapshot predates the lock, which can only make it miss a hold that another
-- transaction created and committed while we waited AND that is already past our now() (a
-- start that ran longer than its ttl): that hold is then released by the next call or the
-- cron; it can never be used (every job function checks expires_at itself).
create function credits.lock_account(p_account uuid) returns credits.accounts
language plpgsql
as $$
declare
  v_account credits.accounts;
  v_expired boolean;
begin
  select a.id, a.balance, a.held, a.chain_seq, a.chain_hash, a.chain_prev_hash, a.created_at, a.updated_at,
         a.held > 0 and exists (
           select 1 from credits.jobs j
            where j.account_id = a.id and j.status = 'pending' and j.expires_at <= now())
    into v_account.id, v_account.balance, v_account.held, v_account.chain_seq, v_account.chain_hash,
         v_account.chain_prev_hash, v_account.created_at, v_account.updated_at, v_expired
    from credits.accounts a where a.id = p_account
     for no key update;
  if not found then
    raise exception using errcode = 'P0001', message = 'NOT_FOUND', detail = 'ACCOUNT_NOT_FOUND';
  end if;
  if v_expired then
    perform credits.settle_expired_jobs(p_account);
    select a.* into v_account from credits.accounts a where a.id = p_account;
  end if;
  return v_account;
end
$$;

-- Settles one job exactly once: status leaves pending (the jobs trigger releases the whole hold)
-- and, when p_debit > 0, ONE job_debit ledger row keyed by the job id is written.
-- Caller holds the account lock, then the job lock, and has checked the job is pending.
create function credits.settle_job(p_job_id uuid, p_status text, p_debit bigint) returns credits.jobs
language plpgsql
as $$
declare
  v_job credits.jobs;
begin
  update credits.jobs j
     set status = p_status, debited = p_debit, settled_at = now()
   where j.id = p_job_id and j.status = 'pending'
  returning j.* into v_job;
  if not found then
    raise exception using errcode = 'P0001', message = 'JOB_NOT_PENDING', detail = 'the job was settled concurrently';
  end if;
  if p_debit > 0 then
    insert into credits.ledger (account_id, kind, cause_type, cause_key, delta)
    values (v_job.account_id, 'job_debit', 'job', v_job.id::text, -p_debit);
  end if;
  return v_job;
end
$$;

-- Settles every pending job of the account whose expiry has passed: debit what was spent (the
-- upstream already consumed it), release the rest. Caller holds the account lock.
create function credits.settle_expired_jobs(p_account uuid) returns integer
language plpgsql
as $$
declare
  v_job record;
  v_count integer := 0;
begin
  for v_job in
    select j.id, j.spent
      from credits.jobs j
     where j.account_id = p_account and j.status = 'pending' and j.expires_at <= now()
     order by j.id
       for no key update
  loop
    perform credits.settle_job(v_job.id, 'expired', v_job.spent);
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$$;

-- Locks a job of the account (after the account, if the caller needs both). Another account's
-- job is indistinguishable from a missing one.
create function credits.lock_job(p_account uuid, p_job_id uuid) returns credits.jobs
language plpgsql
as $$
declare
  v_job credits.jobs;
begin
  select j.* into v_job from credits.jobs j
   where j.id = p_job_id and j.account_id = p_account
     for no key update;
  if not found then
    raise exception using errcode = 'P0001', message = 'JOB_NOT_FOUND', detail = 'no such job';
  end if;
  return v_job;
end
$$;

-- A job is usable (spend, extend, commit, cancel) only while pending and before expires_at.
create function credits.assert_job_pending(p_job credits.jobs) returns void
language plpgsql
as $$
begin
  if p_job.status = 'expired' or (p_job.status = 'pending' and p_job.expires_at <= now()) then
    raise exception using errcode = 'P0001', message = 'JOB_EXPIRED', detail = 'the job expired';
  end if;
  if p_job.status <> 'pending' then
    raise exception using errcode = 'P0001', message = 'JOB_NOT_PENDING', detail = format('the job is %s', p_job.status);
  end if;
end
$$;

-- Job token check: compares SHA-256 digests of the stored and presented token hashes, so the
-- comparison time does not depend on a prefix of the secret; then the device binding.
create function credits.assert_job_token(p_job credits.jobs, p_token_hash bytea, p_device_id text) returns void
language plpgsql
as $$
begin
  if p_token_hash is null
     or extensions.digest(p_job.token_hash, 'sha256') <> extensions.digest(p_token_hash, 'sha256') then
    raise exception using errcode = 'P0001', message = 'UNAUTHORIZED', detail = 'JOB_TOKEN_INVALID';
  end if;
  if p_job.device_id is not null and p_device_id is distinct from p_job.device_id then
    raise exception using errcode = 'P0001', message = 'UNAUTHORIZED', detail = 'JOB_DEVICE_MISMATCH';
  end if;
end
$$;

-- Argument validation, one line per check in the api functions.
create function credits.require(p_ok boolean, p_detail text) returns void
language plpgsql
as $$
begin
  if p_ok is not true then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = p_detail;
  end if;
end
$$;

comment on function credits.lock_account(uuid) is 'Locks the account row FOR NO KEY UPDATE (lock order: account first), lazily settles its expired jobs, returns the fresh row. NOT_FOUND/ACCOUNT_NOT_FOUND if missing.';
comment on function credits.settle_job(uuid, text, bigint) is 'Moves a pending job to committed/cancelled/expired with its debit (one job_debit ledger row when > 0); the jobs trigger releases the hold. Caller holds account then job lock.';
comment on function credits.settle_expired_jobs(uuid) is 'Settles the account''s pending jobs past expiry (debit spent, release the rest); returns how many. Caller holds the account lock.';
comment on function credits.lock_job(uuid, uuid) is 'Locks a job of the given account FOR NO KEY UPDATE; JOB_NOT_FOUND when missing or another account''s.';
comment on function credits.assert_job_pending(credits.jobs) is 'JOB_EXPIRED when expired (settled or lazily), JOB_NOT_PENDING when committed/cancelled.';
comment on function credits.assert_job_token(credits.jobs, bytea, text) is 'UNAUTHORIZED (detail JOB_TOKEN_INVALID | JOB_DEVICE_MISMATCH) unless the token hash matches (digest comparison) and the device matches a device-bound job.';
comment on function credits.require(boolean, text) is 'Raises VALIDATION_FAILED with the given detail unless the condition is true.';

revoke all on function
  credits.lock_account(uuid), credits.settle_job(uuid, text, bigint), credits.settle_expired_jobs(uuid),
  credits.lock_job(uuid, uuid), credits.assert_job_pending(credits.jobs),
  credits.assert_job_token(credits.jobs, bytea, text), credits.require(boolean, text),
  credits.ledger_row_hash(bigint, uuid, bigint, text, text, text, text, bigint, bigint, timestamptz, text),
  credits.ledger_before_insert(), credits.ledger_is_append_only(), credits.accounts_guard(),
  credits.jobs_before_write(),
  credits.ledger_row_is_well_formed(text, text, text, text, bigint),
  credits.job_row_is_well_formed(bigint, bigint, bigint, bigint, text, integer, timestamptz, timestamptz, timestamptz, bytea, text, text)
from public, anon, authenticated;
