-- RLS: a signed-in client (authenticated) reads only its own account, ledger and jobs rows and
-- can write nothing; anon sees nothing; private tables are closed to clients entirely.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(19);

select api.ensure_account('ad000000-0000-0000-0000-00000000000a', 5);
select api.ensure_account('ad000000-0000-0000-0000-00000000000b', 7);
select api.start_job('ad000000-0000-0000-0000-00000000000a', 2, 60, null, null, extensions.digest('ta', 'sha256'));
select api.start_job('ad000000-0000-0000-0000-00000000000b', 3, 60, null, null, extensions.digest('tb', 'sha256'));
select api.charge('ad000000-0000-0000-0000-00000000000b', 1, 'img-b');

-- user A
set local role authenticated;
set local request.jwt.claims = '{"sub":"ad000000-0000-0000-0000-00000000000a","role":"authenticated"}';
select results_eq($$select id, balance, held from credits.accounts$$,
  $$values ('ad000000-0000-0000-0000-00000000000a'::uuid, 5::bigint, 2::bigint)$$, 'A sees exactly its own account');
select results_eq($$select account_id, count(*) from credits.ledger group by account_id$$,
  $$values ('ad000000-0000-0000-0000-00000000000a'::uuid, 1::bigint)$$, 'A sees only its own ledger rows');
select results_eq($$select account_id, amount from credits.jobs$$,
  $$values ('ad000000-0000-0000-0000-00000000000a'::uuid, 2::bigint)$$, 'A sees only its own job');
select is_empty($$select 1 from credits.accounts where id = 'ad000000-0000-0000-0000-00000000000b'$$,
  'A cannot read B''s account even by asking for it');
select throws_ok($$insert into credits.ledger (account_id, kind, cause_type, cause_key, reason, delta)
                   values ('ad000000-0000-0000-0000-00000000000a', 'grant', 'grant', 'free', 'promo', 100)$$,
  '42501', null, 'A cannot write its own ledger');
select throws_ok($$update credits.jobs set amount = 1$$, '42501', null, 'A cannot update its jobs');
select throws_ok($$delete from credits.jobs$$, '42501', null, 'A cannot delete its jobs');
select throws_ok($$insert into credits.accounts (id) values ('ad000000-0000-0000-0000-00000000000c')$$,
  '42501', null, 'A cannot create accounts');
select throws_ok($$select * from credits.job_spends$$, '42501', null, 'job spends are not readable by clients');
select throws_ok($$select * from credits.idempotency_keys$$, '42501', null, 'idempotency keys are not readable by clients');

-- user B
set local request.jwt.claims = '{"sub":"ad000000-0000-0000-0000-00000000000b","role":"authenticated"}';
select results_eq($$select id, balance, held from credits.accounts$$,
  $$values ('ad000000-0000-0000-0000-00000000000b'::uuid, 6::bigint, 3::bigint)$$, 'B sees exactly its own account');
select results_eq($$select kind from credits.ledger order by id$$,
  $$values ('initial_grant'::text), ('charge'::text)$$, 'B sees only its own ledger rows');
select results_eq($$select account_id from credits.jobs$$,
  $$values ('ad000000-0000-0000-0000-00000000000b'::uuid)$$, 'B sees only its own job');

-- no identity
set local request.jwt.claims = '{"role":"authenticated"}';
select is_empty($$select 1 from credits.accounts union all select 1 from credits.ledger union all select 1 from credits.jobs$$,
  'authenticated without a sub sees nothing');
reset role;

-- anon
set local role anon;
select throws_ok($$select * from credits.accounts$$, '42501', null, 'anon cannot read accounts');
select throws_ok($$select * from credits.ledger$$, '42501', null, 'anon cannot read the ledger');
select throws_ok($$select * from credits.jobs$$, '42501', null, 'anon cannot read jobs');
reset role;

select is((select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'credits' and c.relkind = 'r' and not c.relrowsecurity), 0::bigint,
  'every credits table has RLS enabled');
select policies_are('credits', 'ledger', array['ledger_select_own'], 'the ledger has only the own-rows read policy');

select * from finish();
rollback;
