-- =============================================================================
-- Reconciliation (issue 7): for every account, cached balance vs the ledger, cached held vs the
-- pending jobs, and the ledger's hash chain.
--
--   select * from ops.reconcile();          -- incremental (pg_cron every 15 min)
--   select * from ops.reconcile('full');    -- everything from genesis (pg_cron daily)
--
-- INCREMENTAL: a checkpoint per account (last verified seq, its hash and running balance).
-- A run finds the accounts with new ledger rows by scanning ids above the previous run's
-- watermark (minus reconcile.id_lookback ids, for rows whose transaction was still open then),
-- adds the accounts holding pending jobs, and for those reads only rows with seq > checkpoint
-- through the (account_id, seq) index. Its cost grows with new rows, not with the ledger.
-- It also re-reads the checkpoint row itself: a rewritten or deleted tail is caught.
-- FULL: every account, every row from seq 1; then resets the checkpoints. Catches what the
-- incremental pass cannot see: edits of old rows, cached totals of idle accounts.
--
-- One statement does the checking, so ledger, accounts and jobs are read in ONE snapshot: a
-- charge committing meanwhile is either wholly visible or not at all (no false alarms).
-- Per row: seq continues the previous one, prev_hash = previous row's hash, balance_after =
-- previous balance_after + delta, hash = credits.ledger_row_hash(row). Per account: cached
-- balance = last balance_after = Σ delta; cached held = Σ amount of pending jobs.
-- A checkpoint never moves past a bad row, so a discrepancy is re-verified on every run until
-- it is fixed; discrepancies are deduplicated while open and a full run marks those it no
-- longer finds as resolved (checkpoint mismatches stay open until an operator resolves them).
-- A run with new discrepancies raises one alert (rule reconcile.discrepancy).
-- =============================================================================

create table ops.reconcile_state (
  id            boolean primary key default true check (id),
  watermark_id  bigint not null default 0,
  last_run_at   timestamptz
);
comment on table ops.reconcile_state is 'Singleton: the highest ledger id the previous reconcile saw (where the next incremental scan starts). Its row lock keeps two runs from overlapping.';
insert into ops.reconcile_state (id) values (true);

create table ops.reconcile_checkpoints (
  account_id    uuid primary key,
  last_seq      bigint not null check (last_seq >= 0),
  last_hash     text not null check (last_hash ~ '^[0-9a-f]{64}$'),
  last_balance  bigint not null,
  run_id        bigint not null,
  checked_at    timestamptz not null default now()
);
comment on table ops.reconcile_checkpoints is 'Per account: the ledger is verified up to last_seq (whose hash and running balance are recorded). Incremental runs start after it; it never moves past a bad row.';

create table ops.reconcile_runs (
  id                 bigint generated always as identity primary key,
  mode               text not null check (mode in ('incremental', 'full')),
  status             text not null check (status in ('running', 'ok', 'discrepancies', 'skipped')),
  started_at         timestamptz not null default clock_timestamp(),
  finished_at        timestamptz,
  duration_ms        numeric(12, 3),
  accounts_checked   integer not null default 0,
  rows_checked       bigint not null default 0,
  rows_scanned       bigint not null default 0,
  discrepancies      integer not null default 0,
  new_discrepancies  integer not null default 0,
  watermark_from     bigint,
  watermark_to       bigint
);
comment on table ops.reconcile_runs is 'One report row per reconcile run: accounts checked, ledger rows verified (rows_checked) and rows the incremental id scan touched (rows_scanned), discrepancies found (new = not already open), duration.';
comment on column ops.reconcile_runs.rows_checked is 'Ledger rows whose chain, running balance and hash were verified.';
comment on column ops.reconcile_runs.rows_scanned is 'Incremental: ledger rows read by the id scan that finds accounts with new rows (new rows + lookback). Full: = rows_checked.';
comment on column ops.reconcile_runs.status is 'running | ok | discrepancies | skipped (another run held the lock).';
create index reconcile_runs_started_idx on ops.reconcile_runs (started_at desc);
comment on index ops.reconcile_runs_started_idx is 'Latest runs first (audit view, retention).';

create table ops.reconcile_discrepancies (
  id             bigint generated always as identity primary key,
  account_id     uuid not null,
  problem        text not null check (problem in (
                   'seq_gap', 'prev_hash_mismatch', 'balance_after_mismatch', 'hash_mismatch',
                   'balance_mismatch', 'held_mismatch', 'checkpoint_mismatch')),
  ledger_id      bigint,
  seq            bigint,
  expected       text,
  actual         text,
  first_run_id   bigint not null,
  last_run_id    bigint not null,
  first_seen_at  timestamptz not null default now(),
  last_seen_at   timestamptz not null default now(),
  resolved_at    timestamptz,
  resolved_run_id bigint
);
comment on table ops.reconcile_discrepancies is
  'What reconcile found: seq_gap (a row is missing before ledger_id), prev_hash_mismatch, balance_after_mismatch, hash_mismatch (row content changed), balance_mismatch (accounts.balance vs ledger), held_mismatch (accounts.held vs pending jobs), checkpoint_mismatch (the row a checkpoint recorded was changed or deleted). Open while resolved_at is null; one open row per (account, problem, ledger row).';
create unique index reconcile_discrepancies_open_idx
  on ops.reconcile_discrepancies (account_id, problem, coalesce(ledger_id, 0)) where resolved_at is null;
comment on index ops.reconcile_discrepancies_open_idx is 'Deduplicates open discrepancies across runs.';

alter table ops.reconcile_state enable row level security;
alter table ops.reconcile_checkpoints enable row level security;
alter table ops.reconcile_runs enable row level security;
alter table ops.reconcile_discrepancies enable row level security;
revoke all on table ops.reconcile_state, ops.reconcile_checkpoints, ops.reconcile_runs, ops.reconcile_discrepancies
  from public, anon, authenticated, service_role, tollgate_api;

create function ops.reconcile(p_mode text default 'incremental')
returns ops.reconcile_runs
language plpgsql
set search_path = ''
-- JIT would compile the big checking statement on every custom plan (~1 s of LLVM work for a
-- 100 ms incremental run on a 1M-row ledger); its expressions gain nothing from it.
set jit = off
as $$
declare
  v_run ops.reconcile_runs;
  v_watermark_from bigint;
  v_watermark_to bigint;
  v_accounts uuid[];
  v_scanned bigint;
  v_accounts_checked integer;
  v_rows_checked bigint;
  v_found integer;
  v_new integer;
  v_started timestamptz := clock_timestamp();
  v_zero constant text := repeat('0', 64);
begin
  if p_mode is null or p_mode not in ('incremental', 'full') then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'mode must be incremental or full';
  end if;

  -- One run at a time: the singleton row lock; a second run records itself as skipped.
  select s.watermark_id into v_watermark_from from ops.reconcile_state s where s.id for update skip locked;
  if not found then
    insert into ops.reconcile_runs (mode, status, started_at, finished_at, duration_ms)
    values (p_mode, 'skipped', v_started, clock_timestamp(), 0)
    returning * into v_run;
    return v_run;
  end if;
  insert into ops.reconcile_runs (mode, status, started_at) values (p_mode, 'running', v_started)
  returning * into v_run;

  -- Which accounts to check, and the watermark for the next run (taken in this snapshot, so a
  -- row committed after it has a larger id or lies within the next run's lookback).
  if p_mode = 'full' then
    v_watermark_from := 0;
    select coalesce(array_agg(a.id), '{}'), (select coalesce(max(l.id), 0) from credits.ledger l)
      into v_accounts, v_watermark_to
      from credits.accounts a;
    v_scanned := null;
  else
    v_watermark_from := greatest(v_watermark_from - ops.setting_int('reconcile.id_lookback', 1000), 0);
    with scan as (
      select l.id, l.account_id from credits.ledger l where l.id > v_watermark_from
    )
    select coalesce(array_agg(distinct x.account_id), '{}'),
           (select count(*) from scan),
           greatest((select max(s.id) from scan s), v_watermark_from)
      into v_accounts, v_scanned, v_watermark_to
      from (select s.account_id from scan s
            union
            select j.account_id from credits.jobs j where j.status = 'pending') x;
  end if;

  -- The check: one statement, one snapshot.
  with seed as (
    select a.id as account_id, a.balance, a.held,
           cp.last_seq as cp_seq, cp.last_hash as cp_hash,
           case when p_mode = 'full' then 0 else coalesce(cp.last_seq, 0) end as from_seq,
           case when p_mode = 'full' then v_zero else coalesce(cp.last_hash, v_zero) end as from_hash,
           case when p_mode = 'full' then 0 else coalesce(cp.last_balance, 0) end as from_balance
      from credits.accounts a
      left join ops.reconcile_checkpoints cp on cp.account_id = a.id
     where a.id = any (v_accounts)
  ),
  chain as (
    -- LATERAL: one (account_id, seq) index range scan per account, so only rows after the
    -- checkpoint are read (a plain join lets the planner hash-join the whole ledger)
    select s.account_id, l.id, l.seq, l.delta, l.balance_after, l.prev_hash, l.hash,
           coalesce(lag(l.seq) over w, s.from_seq) as prev_seq,
           coalesce(lag(l.hash) over w, s.from_hash) as prev_row_hash,
           coalesce(lag(l.balance_after) over w, s.from_balance) as prev_balance,
           credits.ledger_row_hash(l.id, l.account_id, l.seq, l.kind, l.cause_type, l.cause_key, l.reason,
                                   l.delta, l.balance_after, l.created_at, l.prev_hash) as computed_hash
      from seed s
     cross join lateral (
       select r.* from credits.ledger r
        where r.account_id = s.account_id and r.seq > s.from_seq
        order by r.seq) l
    window w as (partition by s.account_id order by l.seq)
  ),
  judged as (
    select c.*,
           case
             when c.seq <> c.prev_seq + 1 then 'seq_gap'
             when c.prev_hash <> c.prev_row_hash then 'prev_hash_mismatch'
             when c.balance_after <> c.prev_balance + c.delta then 'balance_after_mismatch'
             when c.hash <> c.computed_hash then 'hash_mismatch'
           end as problem
      from chain c
  ),
  tainted as (
    -- a row is usable as a checkpoint only if it and every row before it verified
    select j.*, bool_or(j.problem is not null) over (partition by j.account_id order by j.seq) as bad_so_far
      from judged j
  ),
  per_account as (
    select s.account_id, s.balance, s.held, s.cp_seq, s.cp_hash, s.from_seq, s.from_hash, s.from_balance,
           count(t.id) as n_rows,
           coalesce((array_agg(t.balance_after order by t.seq desc) filter (where t.id is not null))[1], s.from_balance) as ledger_balance,
           s.from_balance + coalesce(sum(t.delta), 0) as sum_balance,
           max(t.seq) filter (where not t.bad_so_far) as good_seq,
           (array_agg(t.hash order by t.seq desc) filter (where not t.bad_so_far))[1] as good_hash,
           (array_agg(t.balance_after order by t.seq desc) filter (where not t.bad_so_far))[1] as good_balance,
           (select coalesce(sum(j.amount), 0) from credits.jobs j
             where j.account_id = s.account_id and j.status = 'pending') as pending_amount,
           (s.cp_seq is not null and s.cp_seq > 0 and not exists (
              select 1 from credits.ledger l
               where l.account_id = s.account_id and l.seq = s.cp_seq and l.hash = s.cp_hash)) as cp_broken
      from seed s
      left join tainted t on t.account_id = s.account_id
     group by s.account_id, s.balance, s.held, s.cp_seq, s.cp_hash, s.from_seq, s.from_hash, s.from_balance
  ),
  found as (
    select j.account_id, j.problem, j.id as ledger_id, j.seq,
           case j.problem
             when 'seq_gap' then (j.prev_seq + 1)::text
             when 'prev_hash_mismatch' then j.prev_row_hash
             when 'balance_after_mismatch' then (j.prev_balance + j.delta)::text
             else j.computed_hash
           end as expected,
           case j.problem
             when 'seq_gap' then j.seq::text
             when 'prev_hash_mismatch' then j.prev_hash
             when 'balance_after_mismatch' then j.balance_after::text
             else j.hash
           end as actual
      from judged j where j.problem is not null
    union all
    select p.account_id, 'balance_mismatch', null, null,
           p.ledger_balance::text || case when p.sum_balance <> p.ledger_balance then ' (sum of delta ' || p.sum_balance || ')' else '' end,
           p.balance::text
      from per_account p where p.balance <> p.ledger_balance or p.balance <> p.sum_balance
    union all
    select p.account_id, 'held_mismatch', null, null, p.pending_amount::text, p.held::text
      from per_account p where p.held <> p.pending_amount
    union all
    select p.account_id, 'checkpoint_mismatch', null, p.cp_seq, p.cp_hash, 'row changed or deleted'
      from per_account p where p.cp_broken
  ),
  recorded as (
    insert into ops.reconcile_discrepancies as d (account_id, problem, ledger_id, seq, expected, actual, first_run_id, last_run_id)
    select f.account_id, f.problem, f.ledger_id, f.seq, f.expected, f.actual, v_run.id, v_run.id from found f
    on conflict (account_id, problem, coalesce(ledger_id, 0)) where resolved_at is null
    do update set last_run_id = excluded.last_run_id, last_seen_at = now(),
                  expected = excluded.expected, actual = excluded.actual
    returning (d.xmax = 0) as inserted
  ),
  checkpointed as (
    -- advance to the last row that verified together with all rows before it; an incremental
    -- run keeps a checkpoint whose own row no longer matches (a full run re-derives it)
    insert into ops.reconcile_checkpoints as k (account_id, last_seq, last_hash, last_balance, run_id, checked_at)
    select p.account_id,
           coalesce(p.good_seq, p.from_seq), coalesce(p.good_hash, p.from_hash), coalesce(p.good_balance, p.from_balance),
           v_run.id, now()
      from per_account p
     where p_mode = 'full' or not p.cp_broken
    on conflict (account_id) do update
      set last_seq = excluded.last_seq, last_hash = excluded.last_hash, last_balance = excluded.last_balance,
          run_id = excluded.run_id, checked_at = excluded.checked_at
    returning 1
  )
  select (select count(*) from per_account),
         (select coalesce(sum(p.n_rows), 0) from per_account p),
         (select count(*) from recorded),
         (select count(*) from recorded r where r.inserted)
    into v_accounts_checked, v_rows_checked, v_found, v_new;

  if p_mode = 'full' then
    -- what a full run no longer finds has been fixed (checkpoint mismatches need an operator)
    update ops.reconcile_discrepancies d
       set resolved_at = now(), resolved_run_id = v_run.id
     where d.resolved_at is null and d.last_run_id <> v_run.id and d.problem <> 'checkpoint_mismatch';
    -- every checkpoint was just rewritten: fresh statistics keep the next incremental plan cheap
    analyze ops.reconcile_checkpoints;
  end if;

  update ops.reconcile_state s set watermark_id = v_watermark_to, last_run_at = now() where s.id;

  update ops.reconcile_runs r
     set status = case when v_found > 0 then 'discrepancies' else 'ok' end,
         finished_at = clock_timestamp(),
         duration_ms = extract(epoch from clock_timestamp() - v_started) * 1000,
         accounts_checked = v_accounts_checked,
         rows_checked = v_rows_checked,
         rows_scanned = coalesce(v_scanned, v_rows_checked),
         discrepancies = v_found,
         new_discrepancies = v_new,
         watermark_from = v_watermark_from,
         watermark_to = v_watermark_to
   where r.id = v_run.id
  returning * into v_run;

  if v_new > 0 then
    perform ops.raise_alert(
      'reconcile.discrepancy', 'error', 'critical',
      format('Ledger reconciliation found %s new %s', v_new, case when v_new = 1 then 'discrepancy' else 'discrepancies' end),
      format('The %s reconcile run %s found %s discrepancies (%s new). The ledger, a cached balance or held total, or the hash chain does not add up: see audit.discrepancies.',
             p_mode, v_run.id, v_found, v_new),
      jsonb_build_object('runId', v_run.id, 'mode', p_mode, 'discrepancies', v_found, 'new', v_new,
        'accounts', (select jsonb_agg(distinct d.account_id) from ops.reconcile_discrepancies d
                      where d.first_run_id = v_run.id and d.resolved_at is null)),
      'reconcile:' || v_run.id);
  end if;
  return v_run;
end
$$;
comment on function ops.reconcile(text) is
  'Reconciles cached balances and holds with the ledger and pending jobs and verifies the hash chain: incremental (default; from per-account checkpoints, cost ~ new rows) or full (everything). Writes one ops.reconcile_runs report row (returned), records discrepancies in ops.reconcile_discrepancies and raises an alert when new ones appear. Concurrent runs: the second is recorded as skipped.';

revoke all on function ops.reconcile(text) from public, anon, authenticated;
