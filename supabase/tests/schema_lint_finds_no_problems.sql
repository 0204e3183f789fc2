-- The schema lint (ops.lint, audit.schema_lint) finds no problem in our schemas, and does find
-- each kind of problem when one is planted.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap;
select plan(11);

select is_empty($$select * from ops.lint()$$, 'ops.lint() finds no problems');
select is_empty($$select * from audit.schema_lint$$, 'audit.schema_lint is empty');

-- plant one problem of each kind (rolled back at the end)
create table credits.lint_probe (id int);
select results_eq($$select check_name, object from ops.lint() where object = 'credits.lint_probe'$$,
  $$values ('rls_enabled'::text, 'credits.lint_probe'::text)$$, 'a table without RLS is reported');
alter table credits.lint_probe enable row level security;

create function api.lint_probe() returns int language sql security definer as 'select 1';
-- (a new function is executable by PUBLIC until revoked: per-schema default privileges cannot
-- take that away; the client_execute check below is what catches a forgotten revoke)
revoke all on function api.lint_probe() from public;
select set_eq($$select check_name from ops.lint() where object = 'api.lint_probe()'$$,
  $$values ('definer_search_path'::text)$$, 'a security definer function without a pinned search_path is reported');
alter function api.lint_probe() set search_path = public;
select results_eq($$select problem from ops.lint() where object = 'api.lint_probe()'$$,
  $$values ('security definer with search_path other than '''' (search_path=public)'::text)$$,
  'a search_path other than '''' is reported');
alter function api.lint_probe() set search_path = '';
grant execute on function api.lint_probe() to authenticated;
select results_eq($$select check_name, problem from ops.lint() where object = 'api.lint_probe()'$$,
  $$values ('client_execute'::text, 'executable by authenticated'::text)$$, 'an api function executable by a client is reported');
revoke execute on function api.lint_probe() from authenticated;
grant execute on function api.lint_probe() to public;
select results_eq($$select problem from ops.lint() where object = 'api.lint_probe()'$$,
  $$values ('executable by PUBLIC'::text), ('executable by anon'::text), ('executable by authenticated'::text)$$,
  'an api function executable by PUBLIC is reported (for every client role)');
revoke execute on function api.lint_probe() from public;

grant select on credits.job_spends to tollgate_api;
select results_eq($$select check_name, object, problem from ops.lint()$$,
  $$values ('function_role_table_privilege'::text, 'credits.job_spends'::text, 'tollgate_api holds SELECT'::text)$$,
  'a table privilege held by tollgate_api is reported');
revoke select on credits.job_spends from tollgate_api;

grant insert on credits.ledger to authenticated;
select results_eq($$select check_name, object, problem from ops.lint()$$,
  $$values ('client_table_privilege'::text, 'credits.ledger'::text, 'authenticated holds INSERT'::text)$$,
  'a client write privilege is reported');
revoke insert on credits.ledger from authenticated;

alter table credits.ledger disable trigger ledger_no_update;
select results_eq($$select check_name, object from ops.lint()$$,
  $$values ('trigger_disabled'::text, 'credits.ledger: ledger_no_update'::text)$$,
  'a disabled integrity trigger is reported');
alter table credits.ledger enable trigger ledger_no_update;

set local role authenticated;
select throws_ok($$select * from ops.lint()$$, '42501', null, 'clients cannot run the lint');
reset role;

select * from finish();
rollback;
