-- =============================================================================
-- Daily logical snapshot of the money tables INSIDE the database (issue 7 "Backups").
-- A second line of defence next to pg_dump / Supabase backups: yesterday's accounts, ledger,
-- jobs, ... are one query away when something looks wrong today.
--
--   call ops.take_snapshot();                      -- pg_cron daily (tollgate-snapshot)
--   select * from ops.verify_snapshot(<id>);       -- row counts and checksums re-computed
--   select r from ops.snapshot_rows(<id>, 'ledger') r;   -- the rows back, as jsonb
--
-- Every table of schema credits except those in snapshot.exclude_tables (default: idempotency
-- keys, which are transient, and AI generation records, which are a log) is copied as JSON lines
-- (to_jsonb of each row, in primary-key order) into chunks of snapshot.chunk_rows rows. Chunks
-- are text columns with lz4 TOAST compression (pglz where lz4 is not compiled in) and carry a
-- SHA-256; the snapshot's checksum covers every table's chunk checksums. take_snapshot runs
-- in one REPEATABLE READ transaction, so the tables agree with each other (consistent = true).
-- Kept snapshot.retention_days days.
-- =============================================================================

create table ops.snapshots (
  id            bigint generated always as identity primary key,
  taken_at      timestamptz not null default now(),
  finished_at   timestamptz,
  consistent    boolean not null,
  tables        jsonb not null default '{}'::jsonb,
  row_count     bigint not null default 0,
  bytes_raw     bigint not null default 0,
  bytes_stored  bigint not null default 0,
  checksum      text,
  duration_ms   numeric(12, 3)
);
comment on table ops.snapshots is
  'Daily logical snapshots of the money tables (schema credits but snapshot.exclude_tables): per-table row counts and checksums in `tables`, raw vs stored (compressed) bytes, an overall SHA-256. consistent = taken in one REPEATABLE READ transaction.';
comment on column ops.snapshots.tables is '{"<table>": {"rows": n, "chunks": n, "checksum": "<sha256 of its chunk checksums>"}}';
comment on column ops.snapshots.checksum is 'SHA-256 over "<table>:<table checksum>" lines in table order.';

create table ops.snapshot_chunks (
  snapshot_id  bigint not null references ops.snapshots (id) on delete cascade,
  table_name   text not null,
  chunk_no     integer not null,
  row_count    integer not null,
  checksum     text not null,
  data         text not null,
  primary key (snapshot_id, table_name, chunk_no)
);
comment on table ops.snapshot_chunks is 'The snapshot data: JSON lines (one row of the table per line, primary-key order), compressed by TOAST; checksum = SHA-256 of data.';

-- lz4 where the server has it (Supabase and Debian builds do), else the default pglz.
do $$
begin
  alter table ops.snapshot_chunks alter column data set compression lz4;
exception when feature_not_supported or invalid_parameter_value then
  raise notice 'lz4 is not available; snapshot chunks use pglz compression';
end
$$;

alter table ops.snapshots enable row level security;
alter table ops.snapshot_chunks enable row level security;
revoke all on table ops.snapshots, ops.snapshot_chunks from public, anon, authenticated, service_role, tollgate_api;

create function ops.snapshot_money_tables()
returns ops.snapshots
language plpgsql
set search_path = ''
as $$
declare
  v_snap ops.snapshots;
  v_table record;
  v_chunk_rows integer := greatest(ops.setting_int('snapshot.chunk_rows', 50000), 100);
  v_started timestamptz := clock_timestamp();
  v_tables text[] := '{}';
begin
  insert into ops.snapshots (consistent)
  values (current_setting('transaction_isolation') in ('repeatable read', 'serializable'))
  returning * into v_snap;

  -- Sorted (not hashed) aggregation: one chunk in memory at a time, whatever the table size.
  perform set_config('enable_hashagg', 'off', true);
  for v_table in
    select c.relname,
           (select string_agg(format('%I', a.attname), ', ' order by k.ord)
              from pg_catalog.pg_index i
             cross join lateral unnest(i.indkey::int2[]) with ordinality k(attnum, ord)
              join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
             where i.indrelid = c.oid and i.indisprimary) as pk
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'credits' and c.relkind in ('r', 'p')
       and c.relname <> all (string_to_array(ops.setting_text('snapshot.exclude_tables', 'idempotency_keys,ai_generations'), ','))
     order by c.relname
  loop
    v_tables := v_tables || v_table.relname::text;
    execute format(
      'insert into ops.snapshot_chunks (snapshot_id, table_name, chunk_no, row_count, checksum, data)
       select $1, $2, x.chunk_no, x.n, pg_catalog.encode(extensions.digest(x.data, ''sha256''), ''hex''), x.data
         from (select s.chunk_no, count(*)::integer as n, string_agg(s.line, E''\n'' order by s.rn) as data
                 from (select (row_number() over w - 1) / $3 as chunk_no, row_number() over w as rn,
                              to_jsonb(t)::text as line
                         from credits.%I t
                       window w as (order by %s)) s
                group by s.chunk_no) x',
      v_table.relname, coalesce(v_table.pk, 'ctid'))
      using v_snap.id, v_table.relname, v_chunk_rows;
  end loop;
  perform set_config('enable_hashagg', 'on', true);

  -- every table, also an empty one (0 rows, 0 chunks, checksum of nothing)
  with per_table as (
    select t.table_name, coalesce(sum(k.row_count), 0) as n, count(k.chunk_no) as chunks,
           pg_catalog.encode(extensions.digest(coalesce(string_agg(k.checksum, E'\n' order by k.chunk_no), ''), 'sha256'), 'hex') as checksum,
           coalesce(sum(octet_length(k.data)), 0) as raw, coalesce(sum(pg_catalog.pg_column_size(k.data)), 0) as stored
      from unnest(v_tables) t(table_name)
      left join ops.snapshot_chunks k on k.snapshot_id = v_snap.id and k.table_name = t.table_name
     group by t.table_name
  )
  update ops.snapshots s
     set tables = coalesce((select jsonb_object_agg(p.table_name, jsonb_build_object('rows', p.n, 'chunks', p.chunks, 'checksum', p.checksum)) from per_table p), '{}'),
         row_count = coalesce((select sum(p.n) from per_table p), 0),
         bytes_raw = coalesce((select sum(p.raw) from per_table p), 0),
         bytes_stored = coalesce((select sum(p.stored) from per_table p), 0),
         checksum = pg_catalog.encode(extensions.digest(coalesce(
           (select string_agg(p.table_name || ':' || p.checksum, E'\n' order by p.table_name) from per_table p), ''), 'sha256'), 'hex'),
         finished_at = clock_timestamp(),
         duration_ms = extract(epoch from clock_timestamp() - v_started) * 1000
   where s.id = v_snap.id
  returning * into v_snap;

  delete from ops.snapshots s
   where s.taken_at < now() - make_interval(days => ops.setting_int('snapshot.retention_days', 7));
  return v_snap;
end
$$;
comment on function ops.snapshot_money_tables() is
  'Copies every credits table (but snapshot.exclude_tables) into a new compressed snapshot in the current transaction, records counts and checksums, and deletes snapshots older than snapshot.retention_days. Prefer `call ops.take_snapshot()`, which makes the copy consistent across tables.';

-- A procedure so it can start its own REPEATABLE READ transaction (no SET clause allowed on a
-- procedure that commits; every name is schema-qualified instead).
create procedure ops.take_snapshot()
language plpgsql
as $$
begin
  commit;
  set transaction isolation level repeatable read;
  perform ops.snapshot_money_tables();
end
$$;
comment on procedure ops.take_snapshot() is
  'pg_cron daily (tollgate-snapshot): ops.snapshot_money_tables() in one REPEATABLE READ transaction, so accounts, ledger and jobs agree. Call it outside a transaction block.';

create function ops.verify_snapshot(p_snapshot_id bigint)
returns table (table_name text, rows_expected bigint, rows_found bigint, checksum_ok boolean)
language sql
stable
set search_path = ''
as $$
  with chunks as (
    select k.table_name, k.chunk_no, k.checksum,
           pg_catalog.encode(extensions.digest(k.data, 'sha256'), 'hex') as actual,
           array_length(string_to_array(k.data, E'\n'), 1) as lines
      from ops.snapshot_chunks k where k.snapshot_id = p_snapshot_id
  ),
  per_table as (
    select c.table_name, sum(c.lines)::bigint as found, bool_and(c.checksum = c.actual) as chunks_ok,
           pg_catalog.encode(extensions.digest(string_agg(c.actual, E'\n' order by c.chunk_no), 'sha256'), 'hex') as checksum
      from chunks c group by c.table_name
  )
  select t.key, (t.value ->> 'rows')::bigint, coalesce(p.found, 0),
         coalesce(p.chunks_ok, true)
         and coalesce(p.checksum, pg_catalog.encode(extensions.digest('', 'sha256'), 'hex')) = t.value ->> 'checksum'
    from ops.snapshots s
   cross join lateral jsonb_each(s.tables) t
    left join per_table p on p.table_name = t.key
   where s.id = p_snapshot_id
   order by t.key
$$;
comment on function ops.verify_snapshot(bigint) is
  'Re-reads a snapshot: per table the recorded and the actual row count and whether every chunk and the table checksum still match. All rows checksum_ok and rows_expected = rows_found means the snapshot is intact.';

create function ops.snapshot_rows(p_snapshot_id bigint, p_table text)
returns setof jsonb
language sql
stable
set search_path = ''
as $$
  select l.line::jsonb
    from ops.snapshot_chunks k
   cross join lateral string_to_table(k.data, E'\n') with ordinality as l(line, n)
   where k.snapshot_id = p_snapshot_id and k.table_name = p_table
   order by k.chunk_no, l.n
$$;
comment on function ops.snapshot_rows(bigint, text) is
  'The rows of one table in a snapshot as jsonb, e.g. to compare with today: select r from ops.snapshot_rows(7, ''accounts'') r; or to rebuild a row: jsonb_populate_record(null::credits.accounts, r).';

revoke all on function ops.snapshot_money_tables(), ops.verify_snapshot(bigint), ops.snapshot_rows(bigint, text)
  from public, anon, authenticated;
revoke all on procedure ops.take_snapshot() from public, anon, authenticated;
