-- GET /admin/accounts/:id: balance, held, available, newest ledger rows and jobs, promo state,
-- in one read-only call; an unknown account is NOT_FOUND.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(9);

select api.ensure_account('e1000000-0000-0000-0000-000000000001', 3);
select api.grant('e1000000-0000-0000-0000-000000000001', 50, 'support', 'admin:ticket-1');
select job_id from api.start_job('e1000000-0000-0000-0000-000000000001', 10, 600, 'dev-e', null,
                                 extensions.digest('token', 'sha256'));

set local role tollgate_api;
select results_eq(
  $$select (o ->> 'balance')::int, (o ->> 'held')::int, (o ->> 'available')::int,
           jsonb_array_length(o -> 'ledger'), jsonb_array_length(o -> 'jobs')
      from api.admin_account_overview('e1000000-0000-0000-0000-000000000001') o$$,
  $$values (53, 10, 43, 2, 1)$$, 'balance, held, available, 2 ledger rows, 1 job');
select is((select o -> 'ledger' -> 0 ->> 'causeKey' from api.admin_account_overview('e1000000-0000-0000-0000-000000000001') o),
  'admin:ticket-1', 'the newest ledger row first');
select is((select o -> 'jobs' -> 0 ->> 'status' from api.admin_account_overview('e1000000-0000-0000-0000-000000000001') o),
  'pending', 'jobs with their status');
select is((select jsonb_array_length(o -> 'ledger') from api.admin_account_overview('e1000000-0000-0000-0000-000000000001', 1, 1) o),
  1, 'limits apply');
select is((select o -> 'promo' ->> 'recentFailures' from api.admin_account_overview('e1000000-0000-0000-0000-000000000001') o),
  '0', 'promo state: no failures');
select throws_ok($$select api.admin_account_overview('e1000000-0000-0000-0000-00000000ffff')$$, 'P0001', 'NOT_FOUND',
  'an unknown account is NOT_FOUND');
select throws_ok($$select api.admin_account_overview('e1000000-0000-0000-0000-000000000001', 0)$$, 'P0001', 'VALIDATION_FAILED',
  'limits are bounded');
reset role;

-- an expired, unsettled hold shows as expired and is not counted as held (triggers off to age
-- the job: inside one transaction now() never passes its expiry)
set local session_replication_role = replica;
update credits.jobs set expires_at = now() - interval '1 second', created_at = now() - interval '10 minutes'
 where account_id = 'e1000000-0000-0000-0000-000000000001';
set local session_replication_role = origin;
select results_eq(
  $$select (o ->> 'held')::int, o -> 'jobs' -> 0 ->> 'status' from api.admin_account_overview('e1000000-0000-0000-0000-000000000001') o$$,
  $$values (0, 'expired'::text)$$, 'an expired hold is shown as expired and not held');
select is((select held from credits.accounts where id = 'e1000000-0000-0000-0000-000000000001'), 10::bigint,
  'and the read changed nothing');

select * from finish();
rollback;
