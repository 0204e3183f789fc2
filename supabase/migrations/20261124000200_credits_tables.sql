-- =============================================================================
-- Credits: accounts, the append-only hash-chained ledger, jobs (holds), job spends,
-- one-shot charges and HTTP idempotency keys.                (ARCHITECTURE §2, issue 4)
-- =============================================================================
--
-- THE ACCOUNTING MODEL (read this first; every function in api.* relies on it)
--
--   balance   = Σ credits.ledger.delta of the account             (cached in accounts.balance)
--   held      = Σ jobs.amount of the account's PENDING jobs        (cached in accounts.held)
--   available = balance − held                                     (never stored)
--
--   * Only ledger rows move the balance. A BEFORE INSERT trigger on the ledger computes the
--     row's per-account sequence number, running balance and SHA-256 chain hash, and writes
--     the new balance into accounts.balance in the same statement. accounts.balance can be
--     changed by nothing else (a guard trigger raises), so invariant 1 holds by construction.
--   * Only pending jobs move `held`. An AFTER trigger on jobs adds/subtracts the job's amount
--     to/from accounts.held when it becomes pending, grows, or leaves pending. A job leaves
--     pending exactly once (pending -> committed | cancelled | expired) and a settled job is
--     immutable (guard trigger), so a hold is released at most once.
--   * The check `held <= balance` on accounts makes `available >= 0` a constraint, not a hope:
--     api functions check first to raise INSUFFICIENT_CREDITS, the constraint is the backstop.
--
--   Jobs are two-phase (pending/post/void transfers):
--     start   : job.amount is held (counts against available). No ledger row.
--     spend   : job.spent += x while spent + x <= amount (the AI proxy reserves usage from the
--               hold before each upstream call). No ledger row and no account lock: the credits
--               are already held. Each spend has a reference and applies at most once;
--               unspend (failed upstream call) reverses a spend at most once.
--     extend  : job.amount += x if available allows, and/or expires_at += ttl.
--     settle  : exactly once, under the job row lock, one of
--                 commit(actual)  debits `actual` (spent <= actual <= amount, default amount),
--                 cancel          debits `spent`   (usage already consumed is never free),
--                 expire          debits `spent`   (by pg_cron every minute, or lazily),
--               and releases the whole hold. The debit is ONE ledger row of kind 'job_debit'
--               keyed by the job id (none when it is 0); the unique key
--               (account_id, kind, cause_key) makes a second debit of a job impossible.
--
--   One-shot charges (no job): charge(reference) debits at once ('charge' row keyed by the
--   reference); refund(reference) credits back at most what was charged, at most once
--   ('refund' row keyed by the same reference, unique).
--   Grants: 'initial_grant' (keyed by the account id, so exactly once per account) and
--   'grant' (keyed by the caller's reference, e.g. 'appstore:2000000123', 'promo:SPRING:<acct>',
--   so at most once per reference and account; the reason says promo/purchase/admin/...).
--
-- LOCK ORDER (deadlock freedom): account row first (SELECT ... FOR NO KEY UPDATE), then job
-- row(s), then charge/spend rows. Functions that touch only a job (spend, unspend) lock only
-- the job and never ask for the account afterwards. No table locks, no advisory locks.
-- FOR NO KEY UPDATE (not FOR UPDATE) so foreign-key checks of concurrent inserts that merely
-- reference the account (KEY SHARE) are not blocked.
--
-- TIME: expiry compares with now(), i.e. the start of the calling transaction; every api call
-- is its own transaction. A pending job whose expires_at <= now() is treated as expired by
-- every function even before it is settled ("lazy expiry").
-- =============================================================================

-- ---------------------------------------------------------------------------
-- accounts
-- ---------------------------------------------------------------------------
create table credits.accounts (
  id          uuid primary key,
  balance     bigint not null default 0,
  held        bigint not null default 0,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  constraint accounts_balance_nonnegative check (balance >= 0),
  constraint accounts_held_nonnegative check (held >= 0),
  constraint accounts_held_within_balance check (held <= balance)
);
comment on table credits.accounts is
  'One row per Supabase Auth user (id = auth.users.id = JWT sub; deliberately no foreign key so deleting a user never touches money history). Cached balance and held; available = balance - held. Created by api.ensure_account.';
comment on column credits.accounts.id is 'The auth user id (JWT sub).';
comment on column credits.accounts.balance is 'Cached Σ ledger.delta; written only by the ledger insert trigger (credits.ledger_before_insert).';
comment on column credits.accounts.held is 'Cached Σ amount of pending jobs; written only by the jobs trigger (credits.jobs_after_write).';
comment on constraint accounts_held_within_balance on credits.accounts is 'available = balance - held >= 0, always (invariant 1).';

-- ---------------------------------------------------------------------------
-- ledger
-- ---------------------------------------------------------------------------
create table credits.ledger (
  id             bigint generated always as identity primary key,
  account_id     uuid not null references credits.accounts (id),
  seq            bigint not null,
  kind           text not null,
  cause_type     text not null,
  cause_key      text not null,
  reason         text,
  delta          bigint not null,
  balance_after  bigint not null,
  prev_hash      text not null,
  hash           text not null,
  created_at     timestamptz not null default now(),
  constraint ledger_delta_nonzero check (delta <> 0),
  constraint ledger_balance_after_nonnegative check (balance_after >= 0),
  constraint ledger_seq_positive check (seq >= 1),
  constraint ledger_cause_key_length check (length(cause_key) between 1 and 255),
  constraint ledger_reason_format check (reason is null or reason ~ '^[a-z][a-z0-9_]{0,31}$'),
  constraint ledger_hash_hex check (hash ~ '^[0-9a-f]{64}$' and prev_hash ~ '^[0-9a-f]{64}$'),
  constraint ledger_kind_shape check (
       (kind = 'initial_grant' and cause_type = 'account' and delta > 0)
    or (kind = 'grant'         and cause_type = 'grant'   and delta > 0 and reason is not null)
    or (kind = 'charge'        and cause_type = 'charge'  and delta < 0)
    or (kind = 'refund'        and cause_type = 'charge'  and delta > 0)
    or (kind = 'job_debit'     and cause_type = 'job'     and delta < 0)
  ),
  constraint ledger_one_row_per_cause unique (account_id, kind, cause_key),
  constraint ledger_chain_position unique (account_id, seq)
);
comment on table credits.ledger is
  'Append-only, tamper-evident money ledger (invariants 1-3). balance = Σ delta per account. UPDATE, DELETE and TRUNCATE raise for every role (triggers); each row carries a SHA-256 hash chained to the account''s previous row, checked by api.verify_ledger_chain / ops.verify_ledger_chains. A superuser with session_replication_role = replica can bypass triggers; the chain is what detects that.';
comment on column credits.ledger.seq is 'Position in the account''s chain, 1, 2, 3, ... (set by trigger). unique (account_id, seq) makes a forked chain impossible.';
comment on column credits.ledger.kind is
  'initial_grant (+, cause account id, once per account) | grant (+, caller reference, reason required) | charge (-, one-shot charge reference) | refund (+, the refunded charge reference, at most once) | job_debit (-, job id: the single settlement debit of a job by commit, cancel or expiry).';
comment on column credits.ledger.cause_type is 'What cause_key names: account | grant | charge | job (implied by kind; kept explicit for audits).';
comment on column credits.ledger.cause_key is 'The cause''s key: account id, grant reference, charge reference or job id. unique (account_id, kind, cause_key) makes applying a cause twice impossible (invariant 3).';
comment on column credits.ledger.reason is 'For grants: why (initial_grant, promo, purchase, review, admin, support, ...). Lower snake case.';
comment on column credits.ledger.delta is 'Signed change of the balance, never 0.';
comment on column credits.ledger.balance_after is 'Running balance after this row (previous balance_after + delta; set by trigger).';
comment on column credits.ledger.prev_hash is 'hash of the account''s previous row; 64 zeros for seq 1.';
comment on column credits.ledger.hash is 'sha256 hex of credits.ledger_row_hash(...) over this row''s content and prev_hash (set by trigger).';
comment on constraint ledger_chain_position on credits.ledger is 'One row per chain position: concurrent appends cannot fork an account''s chain; also the index behind chain walks and ledger pages.';
comment on constraint ledger_one_row_per_cause on credits.ledger is 'Invariant 3: a job is debited at most once, a charge refunded at most once, a grant reference applied at most once.';

-- No separate (account_id, id) index: within an account id order = seq order (appends are
-- serialised by the account lock), so pagination walks the (account_id, seq) index. One index
-- less per ledger insert.

-- The canonical text of a ledger row, hashed. JSON array text is unambiguous (no separator
-- injection through cause_key) and independent of session settings: the timestamp enters as
-- integer microseconds since the epoch, not as text in the session's TimeZone.
-- No `set search_path` here on purpose: every name is schema-qualified, the function is not
-- security definer, and without a SET clause Postgres can inline it into its callers.
create function credits.ledger_row_hash(
  p_id bigint, p_account_id uuid, p_seq bigint, p_kind text, p_cause_type text, p_cause_key text,
  p_reason text, p_delta bigint, p_balance_after bigint, p_created_at timestamptz, p_prev_hash text
) returns text
language sql immutable parallel safe
as $$
  select pg_catalog.encode(extensions.digest(pg_catalog.convert_to(pg_catalog.jsonb_build_array(
    'tollgate-ledger-v1', p_id, p_account_id, p_seq, p_kind, p_cause_type, p_cause_key, p_reason,
    p_delta, p_balance_after, (extract(epoch from p_created_at) * 1000000)::bigint, p_prev_hash
  )::text, 'UTF8'), 'sha256'), 'hex')
$$;
comment on function credits.ledger_row_hash(bigint, uuid, bigint, text, text, text, text, bigint, bigint, timestamptz, text) is
  'SHA-256 (hex) of the canonical JSON text of a ledger row (version tag, all columns but hash, created_at as epoch microseconds) including prev_hash: the per-account hash chain.';

-- Chains and applies every new ledger row. Callers hold the account row lock (api functions do),
-- so reading "the previous row" is race-free; unique (account_id, seq) catches anyone who does not.
create function credits.ledger_before_insert() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_prev_seq bigint;
  v_prev_balance bigint;
  v_prev_hash text;
begin
  select l.seq, l.balance_after, l.hash
    into v_prev_seq, v_prev_balance, v_prev_hash
    from credits.ledger l
   where l.account_id = new.account_id
   order by l.seq desc
   limit 1;

  new.seq := coalesce(v_prev_seq, 0) + 1;
  new.balance_after := coalesce(v_prev_balance, 0) + new.delta;
  new.prev_hash := coalesce(v_prev_hash, repeat('0', 64));
  new.created_at := now();
  new.hash := credits.ledger_row_hash(
    new.id, new.account_id, new.seq, new.kind, new.cause_type, new.cause_key, new.reason,
    new.delta, new.balance_after, new.created_at, new.prev_hash);

  -- The cached balance follows the ledger in the same statement (invariant 1). The accounts
  -- checks (balance >= 0, held <= balance) reject a debit that would overdraw.
  update credits.accounts a
     set balance = new.balance_after, updated_at = now()
   where a.id = new.account_id;
  return new;
end
$$;
comment on function credits.ledger_before_insert() is
  'BEFORE INSERT on credits.ledger: sets seq, balance_after, prev_hash, created_at and hash (the chain) and writes balance_after into accounts.balance.';

create trigger ledger_before_insert
  before insert on credits.ledger
  for each row execute function credits.ledger_before_insert();

-- Invariant 2. Triggers fire for the table owner and for superusers too (only
-- session_replication_role = replica, a superuser-only setting, skips them).
create function credits.ledger_is_append_only() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception using
    errcode = 'P0001',
    message = 'LEDGER_IS_APPEND_ONLY',
    detail = format('%s on credits.ledger is not allowed; correct a mistake with a new compensating row', tg_op);
end
$$;
comment on function credits.ledger_is_append_only() is 'Raises on UPDATE, DELETE and TRUNCATE of credits.ledger, for every role including the owner (invariant 2).';

create trigger ledger_no_update before update on credits.ledger
  for each row execute function credits.ledger_is_append_only();
create trigger ledger_no_delete before delete on credits.ledger
  for each row execute function credits.ledger_is_append_only();
create trigger ledger_no_truncate before truncate on credits.ledger
  for each statement execute function credits.ledger_is_append_only();

-- accounts.balance / accounts.held may change only from the ledger and jobs triggers
-- (trigger depth >= 2 means "called from inside another trigger").
create function credits.accounts_guard() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    if new.balance <> 0 or new.held <> 0 then
      raise exception using errcode = 'P0001', message = 'ACCOUNT_TOTALS_ARE_DERIVED',
        detail = 'a new account starts at balance 0, held 0; credit it through the ledger';
    end if;
    return new;
  end if;
  if new.id <> old.id then
    raise exception using errcode = 'P0001', message = 'ACCOUNT_TOTALS_ARE_DERIVED', detail = 'accounts.id is immutable';
  end if;
  if (new.balance <> old.balance or new.held <> old.held) and pg_trigger_depth() < 2 then
    raise exception using errcode = 'P0001', message = 'ACCOUNT_TOTALS_ARE_DERIVED',
      detail = 'accounts.balance changes only through ledger rows, accounts.held only through jobs';
  end if;
  return new;
end
$$;
comment on function credits.accounts_guard() is 'Keeps accounts.balance/held derived: new accounts start at 0 and the totals change only from the ledger and jobs triggers.';

-- The WHEN clause keeps the guard off the hot path: from inside the ledger/jobs triggers
-- (depth >= 1 when WHEN is evaluated) the function is not even called.
create trigger accounts_guard_insert before insert on credits.accounts
  for each row execute function credits.accounts_guard();
create trigger accounts_guard_update before update on credits.accounts
  for each row when (pg_trigger_depth() = 0) execute function credits.accounts_guard();
create trigger accounts_no_delete before delete on credits.accounts
  for each row execute function credits.ledger_is_append_only();
create trigger accounts_no_truncate before truncate on credits.accounts
  for each statement execute function credits.ledger_is_append_only();

-- ---------------------------------------------------------------------------
-- jobs (holds)
-- ---------------------------------------------------------------------------
create table credits.jobs (
  id               uuid primary key default gen_random_uuid(),
  account_id       uuid not null references credits.accounts (id),
  amount           bigint not null,
  initial_amount   bigint not null,
  spent            bigint not null default 0,
  debited          bigint,
  status           text not null default 'pending',
  ttl_seconds      integer not null,
  expires_at       timestamptz not null,
  token_hash       bytea not null,
  device_id        text,
  idempotency_key  text,
  created_at       timestamptz not null default now(),
  settled_at       timestamptz,
  constraint jobs_amount_positive check (amount > 0 and initial_amount > 0 and amount >= initial_amount),
  constraint jobs_spent_within_amount check (spent >= 0 and spent <= amount),
  constraint jobs_status_known check (status in ('pending', 'committed', 'cancelled', 'expired')),
  constraint jobs_settlement_shape check (
    (status = 'pending') = (settled_at is null) and (status = 'pending') = (debited is null)),
  constraint jobs_debited_range check (debited is null or (debited >= spent and debited <= amount)),
  constraint jobs_ttl_range check (ttl_seconds between 1 and 86400),
  constraint jobs_lifetime check (expires_at > created_at and expires_at <= created_at + interval '24 hours'),
  constraint jobs_token_hash_sha256 check (octet_length(token_hash) = 32),
  constraint jobs_device_id_length check (device_id is null or length(device_id) between 1 and 200),
  constraint jobs_idempotency_key_length check (idempotency_key is null or length(idempotency_key) between 1 and 255),
  constraint jobs_idempotency_key_unique unique (account_id, idempotency_key)
);
comment on table credits.jobs is
  'Two-phase jobs (holds). A pending job''s amount counts against available. It settles exactly once: committed (debits actual, spent <= actual <= amount), cancelled or expired (debit spent); the rest is released. Settled jobs are immutable.';
comment on column credits.jobs.amount is 'Credits currently held (initial_amount plus extensions).';
comment on column credits.jobs.initial_amount is 'Amount requested at start; compared on an idempotent replay of start.';
comment on column credits.jobs.spent is 'Part of the hold already consumed by AI calls (api.spend_on_job); not yet in the ledger; the settlement debit is never below it.';
comment on column credits.jobs.debited is 'Credits debited at settlement (the job_debit ledger row''s -delta, or 0 with no row); null while pending.';
comment on column credits.jobs.status is 'pending | committed | cancelled | expired. Leaves pending exactly once.';
comment on column credits.jobs.ttl_seconds is 'TTL requested at start (compared on an idempotent replay).';
comment on column credits.jobs.expires_at is 'After this instant the job can no longer be used or charged (lazy expiry) and api.expire_jobs settles it.';
comment on column credits.jobs.token_hash is 'SHA-256 of the 32-byte job token; the token itself is never stored.';
comment on column credits.jobs.device_id is 'X-Device-Id at start, if sent: the job is then usable only from that device.';
comment on column credits.jobs.idempotency_key is 'Idempotency-Key of the start request; unique per account, so a retried start returns the same job.';

comment on constraint jobs_idempotency_key_unique on credits.jobs is 'A retried start with the same Idempotency-Key finds its job instead of holding twice.';

create index jobs_pending_by_expiry_idx on credits.jobs (expires_at) where status = 'pending';
comment on index credits.jobs_pending_by_expiry_idx is 'api.expire_jobs: finds pending jobs past expiry.';
create index jobs_pending_by_account_idx on credits.jobs (account_id, expires_at) where status = 'pending';
comment on index credits.jobs_pending_by_account_idx is 'Lazy per-account settlement of expired jobs (credits.lock_account).';
create index jobs_account_created_idx on credits.jobs (account_id, created_at desc);
comment on index credits.jobs_account_created_idx is 'Clients listing their own jobs (RLS reads).';

-- Jobs are born pending and empty, leave pending once, never come back, and then never change.
create function credits.jobs_guard() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    if new.status <> 'pending' or new.spent <> 0 or new.amount <> new.initial_amount then
      raise exception using errcode = 'P0001', message = 'JOB_STATE_INVALID', detail = 'a job starts pending, unspent, at its initial amount';
    end if;
    return new;
  end if;
  if tg_op = 'DELETE' then
    if old.status = 'pending' then
      raise exception using errcode = 'P0001', message = 'JOB_STATE_INVALID', detail = 'a pending job cannot be deleted; cancel it';
    end if;
    return old;
  end if;
  if old.status <> 'pending' then
    raise exception using errcode = 'P0001', message = 'JOB_STATE_INVALID', detail = 'a settled job is immutable';
  end if;
  if new.id <> old.id or new.account_id <> old.account_id or new.token_hash <> old.token_hash
     or new.initial_amount <> old.initial_amount or new.ttl_seconds <> old.ttl_seconds
     or new.created_at <> old.created_at
     or new.device_id is distinct from old.device_id
     or new.idempotency_key is distinct from old.idempotency_key then
    raise exception using errcode = 'P0001', message = 'JOB_STATE_INVALID', detail = 'a job''s identity columns are immutable';
  end if;
  if new.amount < old.amount then
    raise exception using errcode = 'P0001', message = 'JOB_STATE_INVALID', detail = 'a hold only grows while pending';
  end if;
  return new;
end
$$;
comment on function credits.jobs_guard() is 'Jobs state machine: inserted pending; identity immutable; amount only grows; pending -> committed/cancelled/expired once; settled rows immutable; pending rows not deletable.';

create trigger jobs_guard before insert or update or delete on credits.jobs
  for each row execute function credits.jobs_guard();
create trigger jobs_no_truncate before truncate on credits.jobs
  for each statement execute function credits.ledger_is_append_only();

-- accounts.held = Σ amount of pending jobs, maintained by construction.
create function credits.jobs_after_write() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_old_hold bigint := 0;
  v_new_hold bigint := 0;
begin
  if tg_op = 'UPDATE' and old.status = 'pending' then
    v_old_hold := old.amount;
  end if;
  if new.status = 'pending' then
    v_new_hold := new.amount;
  end if;
  if v_new_hold <> v_old_hold then
    update credits.accounts a
       set held = a.held + (v_new_hold - v_old_hold), updated_at = now()
     where a.id = new.account_id;
  end if;
  return null;
end
$$;
comment on function credits.jobs_after_write() is 'AFTER INSERT/UPDATE on credits.jobs: moves the change of the job''s pending hold into accounts.held.';

-- Fires only when the hold can change: spends (spent only) never touch the account row.
create trigger jobs_after_insert after insert on credits.jobs
  for each row execute function credits.jobs_after_write();
create trigger jobs_after_update after update of status, amount on credits.jobs
  for each row when (old.status is distinct from new.status or old.amount <> new.amount)
  execute function credits.jobs_after_write();

-- ---------------------------------------------------------------------------
-- job spends
-- ---------------------------------------------------------------------------
create table credits.job_spends (
  job_id      uuid not null references credits.jobs (id),
  reference   text not null,
  amount      bigint not null,
  unspent     bigint not null default 0,
  created_at  timestamptz not null default now(),
  unspent_at  timestamptz,
  primary key (job_id, reference),
  constraint job_spends_amount_positive check (amount > 0),
  constraint job_spends_unspent_range check (unspent >= 0 and unspent <= amount),
  constraint job_spends_unspend_shape check ((unspent_at is null) = (unspent = 0)),
  constraint job_spends_reference_length check (length(reference) between 1 and 255)
);
comment on table credits.job_spends is
  'Each consumption of a job''s hold by the AI proxy (api.spend_on_job), keyed by (job, reference) so a retried spend applies once; api.unspend_on_job gives part or all of it back, at most once, while the job is pending.';
comment on column credits.job_spends.reference is 'Caller''s key for the spend (e.g. the generation/request id).';
comment on column credits.job_spends.unspent is 'Credits given back to the job (0 = not unspent); at most once.';

-- ---------------------------------------------------------------------------
-- one-shot charges
-- ---------------------------------------------------------------------------
create table credits.charges (
  account_id   uuid not null references credits.accounts (id),
  reference    text not null,
  amount       bigint not null,
  refunded     bigint not null default 0,
  status       text not null default 'charged',
  created_at   timestamptz not null default now(),
  refunded_at  timestamptz,
  primary key (account_id, reference),
  constraint charges_amount_positive check (amount > 0),
  constraint charges_refunded_range check (refunded >= 0 and refunded <= amount),
  constraint charges_status_known check (status in ('charged', 'refunded')),
  constraint charges_refund_shape check (
    (status = 'refunded') = (refunded_at is not null) and (status = 'refunded') = (refunded > 0)),
  constraint charges_reference_length check (length(reference) between 1 and 255)
);
comment on table credits.charges is
  'One-shot charges (no job): debited at once by api.charge, refunded at most once and never above the charged amount by api.refund. Mirrors the ledger''s charge/refund rows for fast lookups.';
comment on column credits.charges.reference is 'Caller''s key of the charge (e.g. an image generation id); unique per account.';
comment on column credits.charges.refunded is 'Credits refunded (0..amount); set once.';

-- A charge is refunded at most once: charged -> refunded, then immutable.
create function credits.charges_guard() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if old.status <> 'charged' or new.status <> 'refunded'
     or new.account_id <> old.account_id or new.reference <> old.reference
     or new.amount <> old.amount or new.created_at <> old.created_at then
    raise exception using errcode = 'P0001', message = 'CHARGE_STATE_INVALID',
      detail = 'a charge changes only once, from charged to refunded';
  end if;
  return new;
end
$$;
comment on function credits.charges_guard() is 'Charges state machine: the only update is charged -> refunded, once; refunded rows are immutable.';

create trigger charges_guard before update on credits.charges
  for each row execute function credits.charges_guard();
create trigger charges_no_delete before delete on credits.charges
  for each row execute function credits.ledger_is_append_only();
create trigger charges_no_truncate before truncate on credits.charges
  for each statement execute function credits.ledger_is_append_only();

-- ---------------------------------------------------------------------------
-- HTTP idempotency keys
-- ---------------------------------------------------------------------------
create table credits.idempotency_keys (
  account_id       uuid not null,
  key              text not null,
  request_hash     text not null,
  status           text not null default 'in_progress',
  response_status  integer,
  response_body    jsonb,
  created_at       timestamptz not null default now(),
  completed_at     timestamptz,
  primary key (account_id, key),
  constraint idempotency_keys_key_length check (length(key) between 1 and 255),
  constraint idempotency_keys_request_hash_length check (length(request_hash) between 1 and 128),
  constraint idempotency_keys_status_known check (status in ('in_progress', 'completed')),
  constraint idempotency_keys_completion_shape check (
    (status = 'completed') = (completed_at is not null)
    and (status = 'completed') = (response_status is not null))
);
comment on table credits.idempotency_keys is
  'Idempotency-Key of credit-moving POSTs, per account, kept 24 h (purged hourly by pg_cron): same key + same request hash -> the stored response is replayed; different hash -> IDEMPOTENCY_KEY_REUSED; still in progress -> IDEMPOTENCY_KEY_IN_USE. See api.idempotency_begin.';
comment on column credits.idempotency_keys.request_hash is 'Caller''s hash of method + path + canonical body (hex); a key is valid for one request only.';
comment on column credits.idempotency_keys.response_body is 'The first response''s JSON body, replayed verbatim.';
create index idempotency_keys_created_idx on credits.idempotency_keys (created_at);
comment on index credits.idempotency_keys_created_idx is 'Hourly purge of keys older than 24 h.';

-- ---------------------------------------------------------------------------
-- Row level security and privileges
-- ---------------------------------------------------------------------------
-- Every table has RLS. Clients (authenticated) may read their own account, ledger and jobs
-- through PostgREST and nothing else; nobody but the owner writes (the api functions run as
-- the owner). anon has no privilege at all. tollgate_api has no table privilege (it only
-- executes api functions).
alter table credits.accounts enable row level security;
alter table credits.ledger enable row level security;
alter table credits.jobs enable row level security;
alter table credits.job_spends enable row level security;
alter table credits.charges enable row level security;
alter table credits.idempotency_keys enable row level security;

create policy accounts_select_own on credits.accounts
  for select to authenticated using (id = (select auth.uid()));
create policy ledger_select_own on credits.ledger
  for select to authenticated using (account_id = (select auth.uid()));
create policy jobs_select_own on credits.jobs
  for select to authenticated using (account_id = (select auth.uid()));
comment on policy accounts_select_own on credits.accounts is 'A signed-in client reads its own account row.';
comment on policy ledger_select_own on credits.ledger is 'A signed-in client reads its own ledger rows.';
comment on policy jobs_select_own on credits.jobs is 'A signed-in client reads its own jobs.';

revoke all on all tables in schema credits from public, anon, authenticated, service_role, tollgate_api;
grant usage on schema credits to authenticated;
grant select on credits.accounts, credits.ledger, credits.jobs to authenticated;
