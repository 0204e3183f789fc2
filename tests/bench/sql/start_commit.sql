-- pgbench script: start + commit of a job as TWO transactions (api.start_job holds 1 credit for
-- 15 minutes, api.commit_job debits it); pgbench's TPS is then pairs per second.
-- Setup and the full procedure: see setup.sql in this folder. Run:
--   pgbench -n -f tests/bench/sql/start_commit.sql -c 16 -j 2 -T 10 -D accounts=1000 "$API_URL"
-- Variables: accounts (-D, required): spread over benchmark accounts 1..accounts
-- (1000 = 16 clients over 1000 accounts; 1 = every client on the hot account 1).
-- pgbench replaces :a and :job inside the literals (simple query protocol, the default); \gset
-- stores the new job id in :job. The token hash is any 32 bytes (start/commit do not check it).
\set a 100000000000 + random(1, :accounts)
select job_id as job from api.start_job('00000000-0000-4000-8000-:a', 1, 900, null, null, '\xabababababababababababababababababababababababababababababababab') \gset
select status from api.commit_job('00000000-0000-4000-8000-:a', ':job', null);
