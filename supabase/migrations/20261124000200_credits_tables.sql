-- =============================================================================
-- Credits: accounts, the append-only hash-chained ledger, jobs (holds), job spends and HTTP
-- idempotency keys.                                           (ARCHITECTURE §2, issue 4)
-- =============================================================================
--
-- THE ACCOUNTING MODEL (read this first; every function in api.* relies on it)
--
--   balance   = Σ credits.ledger.delta of the account             (cached in accounts.balance)
--   held      = Σ jobs.amount of the account's PENDING jobs        (cached in accounts.held)
--   available = balance − held                                     (never stored)
--
--   * Only ledger rows move the balance. A BEFORE INSERT trigger on the ledger appends the row
--     to the account's hash chain and writes the new balance into accounts.balance, in ONE
--     UPDATE of the account row (see "chain head" below). accounts.balance can be changed by
--     nothing else (a guard trigger raises), so invariant 1 holds by construction.
--   * Only pending jobs move `held`. The jobs trigger adds/subtracts the job's amount to/from
--     accounts.held when it becomes pending, grows, or leaves pending. A job leaves pending
--     exactly once (pending -> committed | cancelled | expired) and a settled job is immutable
--     (same trigger), so a hold is released at most once.
--   * The check `0 <= held <= balance` on accounts makes `available >= 0` a constraint, not a
--     hope: api functions check first to raise INSUFFICIENT_CREDITS, the constraint is the
--     backstop. (It implies `balance >= 0`.)
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
--   One-shot charges (no job) live in the ledger itself, there is no second table to keep in
--   step: charge(reference) writes a 'charge' row keyed by the reference; refund(reference)
--   writes a 'refund' row keyed by the same reference (unique: at most once), and the ledger
--   trigger refuses a refund row that has no charge row or exceeds it (never more than charged).
--   Grants: 'initial_grant' (keyed by the account id, so exactly once per account) and
--   'grant' (keyed by the caller's reference, e.g. 'appstore:2000000123', 'promo:SPRING:<acct>',
--   so at most once per reference and account; the reason says promo/purchase/admin/...).
--
-- LOCK ORDER (deadlock freedom): account row first (SELECT ... FOR NO KEY UPDATE), then job
-- row(s), then spend rows. Functions that touch only a job (spend, unspend) lock only the job
-- and never ask for the account afterwards. No table locks, no advisory locks.
-- FOR NO KEY UPDATE (not FOR UPDATE) so KEY SHARE lockers (the job_spends -> jobs foreign key)
-- are not blocked.
--
-- TIME: expiry compares with now(), i.e. the start of the calling transaction; every api call
-- is its own transaction. A pending job whose expires_at <= now() is treated as expired by
-- every function even before it is settled ("lazy expiry").
--
-- PERFORMANCE NOTES (why the hot paths look the way they do; measured with tests/bench/sql/*)
--   * CHECK constraints are re-read from their stored node text, re-planned and re-compiled
--     on EVERY statement that writes the table (PG15 keeps them as text in the relcache):
--     ~5 us per constraint even for `a >= b`, tens of us for one full of text or interval
--     constants (the first version's ledger checks cost ~40 us per row, the jobs checks
--     ~20 us). So every table has ONE check constraint: on accounts a plain expression; on
--     ledger and jobs a call of an immutable PL/pgSQL validator (a function call is cheap to
--     read; its body is compiled once per session) that raises check_violation (23514) naming
--     the broken rule, so errors are as specific as with one constraint per rule.
--   * Trigger and internal (non security definer) functions carry no `SET search_path`: a SET
--     clause makes every call save/restore the GUC state and prevents SQL-function inlining.
--     They run with the caller's search_path, which is '' whenever they are reached through
--     an api.* function, and every name in them is schema-qualified (pg_catalog is always
--     searched first), so nothing can be shadowed. They are not executable by any client
--     role, and they run with the caller's rights, so a hostile search_path could only hurt
--     a caller who already owns the tables. Security definer functions keep
--     `set search_path = ''` (ops.lint() enforces it).
--   * The chain head (seq, hash of the last row) is kept on the account row, so appending a
--     ledger row is one UPDATE ... RETURNING of the account instead of a look-up of the
--     previous ledger row plus an update.
--   * No foreign keys from ledger/jobs to accounts: the triggers that must update the account
--     row anyway raise foreign_key_violation (23503) when it does not exist, and accounts can
--     be neither deleted, truncated nor re-keyed (guard triggers). Same guarantee, without an
--     RI query per insert.
--   * Never write `INSERT ... ON CONFLICT` into credits.ledger or credits.jobs: their BEFORE
--     triggers update the account row before the conflict check, so a skipped row would still
--     move the cached totals. Probe first (the api functions do, under the account lock).
-- =============================================================================

-- ---------------------------------------------------------------------------
-- accounts
-- ---------------------------------------------------------------------------
create table credits.accounts (
  id               uuid primary key,
  balance          bigint not null default 0,
  held             bigint not null default 0,
  chain_seq        bigint not null default 0,
  chain_hash       text not null default '0000000000000000000000000000000000000000000000000000000000000000',
  chain_prev_hash  text not null default '0000000000000000000000000000000000000000000000000000000000000000',
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  constraint accounts_available_nonnegative check (held >= 0 and held <= balance)
);
comment on table credits.accounts is
  'One row per Supabase Auth user (id = auth.users.id = JWT sub; deliberately no foreign key so deleting a user never touches money history). Cached balance and held; available = balance - held; the head of the account''s ledger hash chain. Created by api.ensure_account.';
comment on column credits.accounts.id is 'The auth user id (JWT sub).';
comment on column credits.accounts.balance is 'Cached Σ ledger.delta; written only by the ledger insert trigger (credits.ledger_before_insert). Never negative: 0 <= held <= balance.';
comment on column credits.accounts.held is 'Cached Σ amount of pending jobs; written only by the jobs trigger (credits.jobs_before_write).';
comment on column credits.accounts.chain_seq is 'seq of the account''s last ledger row (0: none yet); written only by the ledger insert trigger.';
comment on column credits.accounts.chain_hash is 'hash of the account''s last ledger row (64 zeros: none yet) = the next row''s prev_hash; written only by the ledger insert trigger.';
comment on column credits.accounts.chain_prev_hash is 'prev_hash of the account''s last ledger row. Kept so the ledger trigger gets it back from its single UPDATE ... RETURNING (PG15 RETURNING sees only new values).';
comment on constraint accounts_available_nonnegative on credits.accounts is 'held >= 0 and available = balance - held >= 0, always (invariant 1); together they keep balance >= 0.';

-- ---------------------------------------------------------------------------
-- ledger
-- ---------------------------------------------------------------------------

-- All row rules of the ledger, as its one check constraint (see PERFORMANCE NOTES). Raises
-- check_violation naming the rule; returns true otherwise.
create function credits.ledger_row_is_well_formed(
  p_kind text, p_cause_type text, p_cause_key text, p_reason text, p_delta bigint
) returns boolean
language plpgsql immutable parallel safe
as $$
begin
  -- Every kind has a strict sign, so this also makes delta <> 0 (issue 4: never 0).
  if p_delta is null or p_delta = 0 then
    raise exception using errcode = 'check_violation', constraint = 'ledger_delta_nonzero',
      message = 'ledger_delta_nonzero: delta must not be 0';
  end if;
  if not coalesce(case p_kind
                    when 'charge'        then p_cause_type = 'charge'  and p_delta < 0
                    when 'job_debit'     then p_cause_type = 'job'     and p_delta < 0
                    when 'refund'        then p_cause_type = 'charge'  and p_delta > 0
                    when 'grant'         then p_cause_type = 'grant'   and p_delta > 0 and p_reason is not null
                    when 'initial_grant' then p_cause_type = 'account' and p_delta > 0
                  end, false) then
    raise exception using errcode = 'check_violation', constraint = 'ledger_kind_shape',
      message = format('ledger_kind_shape: kind %L with cause_type %L, delta %s, reason %L is not a valid ledger row',
                       p_kind, p_cause_type, p_delta, p_reason);
  end if;
  if length(p_cause_key) not between 1 and 255 then
    raise exception using errcode = 'check_violation', constraint = 'ledger_cause_key_length',
      message = 'ledger_cause_key_length: cause_key must be 1..255 characters';
  end if;
  if p_reason !~ '^[a-z][a-z0-9_]{0,31}$' then
    raise exception using errcode = 'check_violation', constraint = 'ledger_reason_format',
      message = 'ledger_reason_format: reason must be lower snake case, at most 32 characters';
  end if;
  return true;
end
$$;
comment on function credits.ledger_row_is_well_formed(text, text, text, text, bigint) is
  'The check constraint of credits.ledger (ledger_row_rules); raises check_violation naming the rule: ledger_delta_nonzero; ledger_kind_shape (initial_grant: cause account, +; grant: cause grant, +, reason required; charge: cause charge, -; refund: cause charge, +; job_debit: cause job, -); ledger_cause_key_length (1..255); ledger_reason_format (lower snake case, <= 32 chars).';

create table credits.ledger (
  id             bigint generated always as identity primary key,
  account_id     uuid not null,
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
  constraint ledger_row_rules check (credits.ledger_row_is_well_formed(kind, cause_type, cause_key, reason, delta)),
  constraint ledger_one_row_per_cause unique (account_id, kind, cause_key),
  constraint ledger_chain_position unique (account_id, seq)
);
comment on table credits.ledger is
  'Append-only, tamper-evident money ledger (invariants 1-3). balance = Σ delta per account. UPDATE, DELETE and TRUNCATE raise for every role (triggers); each row carries a SHA-256 hash chained to the account''s previous row, checked by api.verify_ledger_chain / ops.verify_ledger_chains. A superuser with session_replication_role = replica can bypass triggers; the chain (and the chain head on accounts) is what detects that.';
comment on column credits.ledger.account_id is 'The account (no foreign key: the insert trigger updates the account row and raises foreign_key_violation when it does not exist; accounts are never deleted).';
comment on column credits.ledger.seq is 'Position in the account''s chain, 1, 2, 3, ... (set by trigger from accounts.chain_seq). unique (account_id, seq) makes a forked chain impossible.';
comment on column credits.ledger.kind is
  'initial_grant (+, cause account id, once per account) | grant (+, caller reference, reason required) | charge (-, one-shot charge reference) | refund (+, the refunded charge reference, at most once, never above the charge) | job_debit (-, job id: the single settlement debit of a job by commit, cancel or expiry).';
comment on column credits.ledger.cause_type is 'What cause_key names: account | grant | charge | job (implied by kind; kept explicit for audits).';
comment on column credits.ledger.cause_key is 'The cause''s key: account id, grant reference, charge reference or job id. unique (account_id, kind, cause_key) makes applying a cause twice impossible (invariant 3).';
comment on column credits.ledger.reason is 'For grants: why (initial_grant, promo, purchase, review, admin, support, ...). Lower snake case.';
comment on column credits.ledger.delta is 'Signed change of the balance, never 0 (ledger_row_rules).';
comment on column credits.ledger.balance_after is 'Running balance after this row (previous balance_after + delta; set by trigger). Never negative: it is written to accounts.balance, whose checks reject an overdraw.';
comment on column credits.ledger.prev_hash is 'hash of the account''s previous row; 64 zeros for seq 1 (set by trigger).';
comment on column credits.ledger.hash is 'sha256 hex of credits.ledger_row_hash(...) over this row''s content and prev_hash (set by trigger).';
comment on constraint ledger_row_rules on credits.ledger is 'delta <> 0; kind, cause_type, sign of delta, cause_key and reason are consistent (credits.ledger_row_is_well_formed raises naming the broken rule).';
-- Not checked per row on purpose: seq, balance_after, prev_hash and hash are set by the insert
-- trigger, never by the writer; the chain verification recomputes all four.
comment on constraint ledger_chain_position on credits.ledger is 'One row per chain position: a forked chain is impossible even for a writer that bypasses the chain head; also the index behind chain walks and ledger pages.';
comment on constraint ledger_one_row_per_cause on credits.ledger is 'Invariant 3: a job is debited at most once, a charge charged and refunded at most once, a grant reference applied at most once. Also the index behind charge/refund look-ups.';

-- No separate (account_id, id) index: within an account id order = seq order (appends are
-- serialised by the account row), so pagination walks the (account_id, seq) index. One index
-- less per ledger insert.

-- The canonical text of a ledger row, hashed. JSON array text is unambiguous (no separator
-- injection through cause_key) and independent of session settings: the timestamp enters as
-- integer microseconds since the epoch, not as text in the session's TimeZone.
-- Declared STABLE, not immutable: jsonb_build_array and extract() are stable, and Postgres
-- inlines a SQL function only when its body is no more volatile than declared. Inlined, the
-- expression is planned once with the ledger trigger's cached plan instead of the body being
-- parsed and planned again on every row. No `set search_path` (it would prevent inlining):
-- every name is schema-qualified.
create function credits.ledger_row_hash(
  p_id bigint, p_account_id uuid, p_seq bigint, p_kind text, p_cause_type text, p_cause_key text,
  p_reason text, p_delta bigint, p_balance_after bigint, p_created_at timestamptz, p_prev_hash text
) returns text
language sql stable parallel safe
as $$
  select pg_catalog.encode(extensions.digest(pg_catalog.convert_to(pg_catalog.jsonb_build_array(
    'tollgate-ledger-v1', p_id, p_account_id, p_seq, p_kind, p_cause_type, p_cause_key, p_reason,
    p_delta, p_balance_after, (extract(epoch from p_created_at) * 1000000)::bigint, p_prev_hash
  )::text, 'UTF8'), 'sha256'), 'hex')
$$;
comment on function credits.ledger_row_hash(bigint, uuid, bigint, text, text, text, text, bigint, bigint, timestamptz, text) is
  'SHA-256 (hex) of the canonical JSON text of a ledger row (version tag, all columns but hash, created_at as epoch microseconds) including prev_hash: the per-account hash chain.';

-- Chains and applies every new ledger row with ONE statement: the account row is updated and
-- returns the new chain position, running balance and hashes. The UPDATE takes the account's
-- row lock, so concurrent appends to one account are serialised even for a writer that did
-- not lock the account first (READ COMMITTED re-evaluates the SET list on the newest row);
-- unique (account_id, seq) is the backstop. The accounts checks (held >= 0, held <= balance)
-- reject a debit that would overdraw.
create function credits.ledger_before_insert() returns trigger
language plpgsql
as $$
begin
  -- A refund row needs its charge row and never returns more than was charged (the unique
  -- cause key already makes it at most one refund per charge). Two nested IFs on purpose: the
  -- outer one is a "simple expression" PL/pgSQL evaluates without the executor; a condition
  -- with a subquery would run a full query on every insert.
  if new.kind = 'refund' then
    if not exists (select 1 from credits.ledger c
                    where c.account_id = new.account_id and c.kind = 'charge' and c.cause_key = new.cause_key
                      and -c.delta >= new.delta) then
      raise exception using errcode = 'P0001', message = 'REFUND_EXCEEDS_CHARGE',
        detail = format('refund %s of charge %L: no such charge, or it was smaller', new.delta, new.cause_key);
    end if;
  end if;

  new.created_at := now();
  update credits.accounts a
     set balance = a.balance + new.delta,
         chain_seq = a.chain_seq + 1,
         chain_prev_hash = a.chain_hash,
         chain_hash = credits.ledger_row_hash(
           new.id, new.account_id, a.chain_seq + 1, new.kind, new.cause_type, new.cause_key, new.reason,
           new.delta, a.balance + new.delta, new.created_at, a.chain_hash),
         updated_at = now()
   where a.id = new.account_id
  returning a.chain_seq, a.balance, a.chain_prev_hash, a.chain_hash
       into new.seq, new.balance_after, new.prev_hash, new.hash;
  if not found then
    raise exception using errcode = 'foreign_key_violation', message = 'ACCOUNT_NOT_FOUND',
      detail = format('ledger row for account %s, which does not exist', new.account_id);
  end if;
  return new;
end
$$;
comment on function credits.ledger_before_insert() is
  'BEFORE INSERT on credits.ledger: sets seq, balance_after, prev_hash, created_at and hash (the chain) from the account''s chain head and writes balance and chain head back in one UPDATE; refuses refunds without a (large enough) charge and rows of unknown accounts.';

create trigger ledger_before_insert
  before insert on credits.ledger
  for each row execute function credits.ledger_before_insert();

-- Invariant 2. Triggers fire for the table owner and for superusers too (only
-- session_replication_role = replica, a superuser-only setting, skips them).
create function credits.ledger_is_append_only() returns trigger
language plpgsql
as $$
begin
  raise exception using
    errcode = 'P0001',
    message = 'LEDGER_IS_APPEND_ONLY',
    detail = format('%s on %s.%s is not allowed; correct a mistake with a new compensating row', tg_op, tg_table_schema, tg_table_name);
end
$$;
comment on function credits.ledger_is_append_only() is 'Raises on UPDATE, DELETE and TRUNCATE of credits.ledger (and DELETE/TRUNCATE of accounts and jobs), for every role including the owner (invariant 2).';

create trigger ledger_no_update before update on credits.ledger
  for each row execute function credits.ledger_is_append_only();
create trigger ledger_no_delete before delete on credits.ledger
  for each row execute function credits.ledger_is_append_only();
create trigger ledger_no_truncate before truncate on credits.ledger
  for each statement execute function credits.ledger_is_append_only();

-- accounts.balance / accounts.held / the chain head may change only from the ledger and jobs
-- triggers (trigger depth >= 2 means "called from inside another trigger").
create function credits.accounts_guard() returns trigger
language plpgsql
as $$
begin
  if tg_op = 'INSERT' then
    if new.balance <> 0 or new.held <> 0 or new.chain_seq <> 0
       or new.chain_hash <> repeat('0', 64) or new.chain_prev_hash <> repeat('0', 64) then
      raise exception using errcode = 'P0001', message = 'ACCOUNT_TOTALS_ARE_DERIVED',
        detail = 'a new account starts at balance 0, held 0, an empty chain; credit it through the ledger';
    end if;
    return new;
  end if;
  if new.id <> old.id then
    raise exception using errcode = 'P0001', message = 'ACCOUNT_TOTALS_ARE_DERIVED', detail = 'accounts.id is immutable';
  end if;
  if (new.balance, new.held, new.chain_seq, new.chain_hash, new.chain_prev_hash)
       is distinct from (old.balance, old.held, old.chain_seq, old.chain_hash, old.chain_prev_hash)
     and pg_trigger_depth() < 2 then
    raise exception using errcode = 'P0001', message = 'ACCOUNT_TOTALS_ARE_DERIVED',
      detail = 'accounts.balance and the chain head change only through ledger rows, accounts.held only through jobs';
  end if;
  return new;
end
$$;
comment on function credits.accounts_guard() is 'Keeps accounts.balance/held/chain head derived: new accounts start at 0 with an empty chain, and these columns change only from the ledger and jobs triggers.';

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

-- All row rules of a job, as its one check constraint (see PERFORMANCE NOTES). Raises
-- check_violation naming the rule; returns true otherwise. (Transitions, e.g. "leaves pending
-- once", are the trigger's business; these are the rules every single row obeys.)
create function credits.job_row_is_well_formed(
  p_amount bigint, p_initial_amount bigint, p_spent bigint, p_debited bigint, p_status text,
  p_ttl_seconds integer, p_created_at timestamptz, p_expires_at timestamptz, p_settled_at timestamptz,
  p_token_hash bytea, p_device_id text, p_idempotency_key text
) returns boolean
language plpgsql immutable parallel safe
as $$
declare
  v_rule text;
begin
  v_rule := case
    when not (p_amount > 0 and p_initial_amount > 0 and p_amount >= p_initial_amount) then 'jobs_amount_positive'
    when not (p_spent >= 0 and p_spent <= p_amount) then 'jobs_spent_within_amount'
    when p_status is null or p_status not in ('pending', 'committed', 'cancelled', 'expired') then 'jobs_status_known'
    when (p_status = 'pending') <> (p_settled_at is null) or (p_status = 'pending') <> (p_debited is null) then 'jobs_settlement_shape'
    when p_debited < p_spent or p_debited > p_amount then 'jobs_debited_range'
    when p_ttl_seconds is null or p_ttl_seconds not between 1 and 86400 then 'jobs_ttl_range'
    when not (p_expires_at > p_created_at and p_expires_at <= p_created_at + interval '24 hours') then 'jobs_lifetime'
    when octet_length(p_token_hash) is distinct from 32 then 'jobs_token_hash_sha256'
    when length(p_device_id) not between 1 and 200 then 'jobs_device_id_length'
    when length(p_idempotency_key) not between 1 and 255 then 'jobs_idempotency_key_length'
  end;
  if v_rule is not null then
    raise exception using errcode = 'check_violation', constraint = v_rule,
      message = format('%s: the job row breaks this rule (amount %s, initial %s, spent %s, debited %s, status %L)',
                       v_rule, p_amount, p_initial_amount, p_spent, p_debited, p_status);
  end if;
  return true;
end
$$;
comment on function credits.job_row_is_well_formed(bigint, bigint, bigint, bigint, text, integer, timestamptz, timestamptz, timestamptz, bytea, text, text) is
  'The check constraint of credits.jobs (jobs_row_rules); raises check_violation naming the rule: jobs_amount_positive (amount >= initial_amount > 0), jobs_spent_within_amount (0 <= spent <= amount), jobs_status_known, jobs_settlement_shape (settled_at and debited set exactly when settled), jobs_debited_range (spent <= debited <= amount), jobs_ttl_range (1..86400), jobs_lifetime (0 < expires_at - created_at <= 24 h), jobs_token_hash_sha256 (32 bytes), jobs_device_id_length (1..200), jobs_idempotency_key_length (1..255).';

create table credits.jobs (
  id               uuid primary key default gen_random_uuid(),
  account_id       uuid not null,
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
  constraint jobs_row_rules check (credits.job_row_is_well_formed(
    amount, initial_amount, spent, debited, status, ttl_seconds, created_at, expires_at, settled_at,
    token_hash, device_id, idempotency_key))
);
comment on table credits.jobs is
  'Two-phase jobs (holds). A pending job''s amount counts against available. It settles exactly once: committed (debits actual, spent <= actual <= amount), cancelled or expired (debit spent); the rest is released. Settled jobs are immutable.';
comment on column credits.jobs.account_id is 'The account (no foreign key: the jobs trigger updates the account row on insert and raises foreign_key_violation when it does not exist; accounts are never deleted).';
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
comment on constraint jobs_row_rules on credits.jobs is 'Amounts, status, settlement columns, lifetime and lengths are consistent (credits.job_row_is_well_formed raises naming the broken rule).';

-- Partial: a start without a key (the API always sends one; internal callers may not) pays
-- no index entry, and neither does any later (non-HOT) update of the job.
create unique index jobs_idempotency_key_unique on credits.jobs (account_id, idempotency_key)
  where idempotency_key is not null;
comment on index credits.jobs_idempotency_key_unique is 'A retried start with the same Idempotency-Key finds its job instead of holding twice.';

-- One partial index serves both expiry paths: the lazy per-account probe (account_id =, then
-- expires_at <=) and the per-minute api.expire_jobs (walks all PENDING jobs only, which are
-- few: they live at most 24 h). A second (expires_at) index would cost every start.
create index jobs_pending_by_account_idx on credits.jobs (account_id, expires_at) where status = 'pending';
comment on index credits.jobs_pending_by_account_idx is 'Pending jobs by account and expiry: the lazy expiry probe of every money function and api.expire_jobs.';
create index jobs_account_created_idx on credits.jobs (account_id, created_at desc);
comment on index credits.jobs_account_created_idx is 'Clients listing their own jobs (RLS reads).';

-- One BEFORE trigger does both jobs of the table (one PL/pgSQL call per row, no AFTER-trigger
-- queue): the state machine (born pending and empty, identity immutable, hold only grows,
-- leaves pending once, settled rows immutable, pending rows not deletable) and
-- accounts.held = Σ amount of pending jobs, by construction. Updating the account from a
-- BEFORE trigger is safe because a failing row check aborts the whole statement, and jobs
-- are never written with ON CONFLICT (see PERFORMANCE NOTES).
create function credits.jobs_before_write() returns trigger
language plpgsql
as $$
declare
  v_hold_change bigint;
begin
  if tg_op = 'INSERT' then
    if new.status <> 'pending' or new.spent <> 0 or new.amount <> new.initial_amount then
      raise exception using errcode = 'P0001', message = 'JOB_STATE_INVALID', detail = 'a job starts pending, unspent, at its initial amount';
    end if;
    update credits.accounts a set held = a.held + new.amount, updated_at = now() where a.id = new.account_id;
    if not found then
      raise exception using errcode = 'foreign_key_violation', message = 'ACCOUNT_NOT_FOUND',
        detail = format('job for account %s, which does not exist', new.account_id);
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
  -- old is pending here: its hold was old.amount; the new hold is new.amount if still pending.
  v_hold_change := case when new.status = 'pending' then new.amount else 0 end - old.amount;
  if v_hold_change <> 0 then
    update credits.accounts a set held = a.held + v_hold_change, updated_at = now() where a.id = new.account_id;
  end if;
  return new;
end
$$;
comment on function credits.jobs_before_write() is
  'BEFORE INSERT/UPDATE/DELETE on credits.jobs: the jobs state machine (inserted pending; identity immutable; amount only grows; pending -> committed/cancelled/expired once; settled rows immutable; pending rows not deletable) and accounts.held maintenance (a job''s hold enters when inserted, grows when extended, leaves when settled).';

create trigger jobs_before_write before insert or update or delete on credits.jobs
  for each row execute function credits.jobs_before_write();
create trigger jobs_no_truncate before truncate on credits.jobs
  for each statement execute function credits.ledger_is_append_only();

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
