-- Ledger benchmark setup (tests/bench/sql/*.sql, issue 4 "Benchmark").
--
-- Creates the benchmark accounts n = 1..1000 with a large balance so no script runs out of
-- credits. Account n has the id
--   '00000000-0000-4000-8000-' || (100000000000 + n)        e.g. ...-8000-100000000001
-- (12 decimal digits are valid hex), so the scripts can pass it as a plain uuid literal built by
-- pgbench (`'00000000-0000-4000-8000-:a'`): like a real client sending a parameter, with no
-- SQL-side uuid arithmetic in the measured statement. Account 1 is the hot account.
-- Idempotent (ensure_account + a grant keyed by reference 'bench:setup'; 1e12 credits lasts for
-- any run length); safe to re-run before every benchmark.
--
-- How the benchmark runs (ALL sides against the same server, same config, same pgbench client;
-- simple query protocol, the default, for all of them):
--   psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -f tests/bench/sql/setup.sql      # superuser / owner
--   pgbench -i -s 10 "$ADMIN_URL"                                           # baseline tables, once
--   pgbench -n -b simple-update   -c 16 -j 2 -T 10 "$ADMIN_URL"
--   pgbench -n -f tests/bench/sql/charge.sql       -c 16 -j 2 -T 10 -D accounts=1000 "$API_URL"
--   pgbench -n -f tests/bench/sql/start_commit.sql -c 16 -j 2 -T 10 -D accounts=1000 "$API_URL"
--   ... and the last two again with -D accounts=1 (all 16 clients on the hot account).
-- $API_URL is the tollgate_api role (it only needs EXECUTE on api.*); the superuser works too.
-- Ratios to report: charge TPS / simple-update TPS (target >= 0.8) and start_commit TPS (= pairs
-- per second) / simple-update TPS (target >= 0.4). Check pgbench's "number of failed
-- transactions: 0" and that no client aborted.

select count(*) as bench_accounts
  from generate_series(1, 1000) n
  cross join lateral (select ('00000000-0000-4000-8000-' || (100000000000 + n))::uuid as id) a
  cross join lateral api.ensure_account(a.id, 0) e
  cross join lateral api.grant(a.id, 1000000000000, 'admin', 'bench:setup') g;

-- Fresh statistics and visibility maps, so every run starts from the same plan shapes.
vacuum analyze credits.accounts;
vacuum analyze credits.ledger;
vacuum analyze credits.jobs;
