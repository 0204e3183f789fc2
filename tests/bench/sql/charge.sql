-- pgbench script: ONE one-shot charge per transaction (api.charge, 1 credit, unique reference).
-- Setup and the full procedure: see setup.sql in this folder. Run:
--   pgbench -n -f tests/bench/sql/charge.sql -c 16 -j 2 -T 10 -D accounts=1000 "$API_URL"
-- Variables: accounts (-D, required): spread over benchmark accounts 1..accounts
-- (1000 = 16 clients over 1000 accounts; 1 = every client on the hot account 1).
-- pgbench replaces :a and :r inside the literals (simple query protocol, the default).
-- The reference is a random 63-bit number: a collision (never seen) would just replay the
-- earlier charge (applied = false), which costs about the same.
\set a 100000000000 + random(1, :accounts)
\set r random(1, 9000000000000000000)
select applied from api.charge('00000000-0000-4000-8000-:a', 1, 'bench-:r');
