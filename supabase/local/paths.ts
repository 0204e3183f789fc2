/** Where the local stack keeps things, and the ports it uses (mirroring `supabase start`). */
import { fromFileUrl, join } from "./path.ts";

export const ROOT: string = fromFileUrl(new URL("../../", import.meta.url));
export const LOCAL_DIR: string = join(ROOT, "supabase/.local");
export const MIGRATIONS_DIR: string = join(ROOT, "supabase/migrations");
export const PGTAP_DIR: string = join(ROOT, "supabase/tests");
export const BOOTSTRAP_SQL: string = join(ROOT, "supabase/local/bootstrap.sql");

/** The supabase CLI is an npm package; this pin is the one version we run. */
export const SUPABASE_CLI = "supabase@3.1.0";

/** One local stack: its database cluster and where its HTTP services listen. */
export interface StackPorts {
  gateway: number;
  db: number;
  fakeUpstream: number;
}

export const DEV_PORTS: StackPorts = { gateway: 54321, db: 54322, fakeUpstream: 54323 };
/**
 * `deno task test` builds its own throwaway stack beside the dev one. TOLLGATE_TEST_SLOT=N
 * shifts its ports by 10·N so that several test runs can share one machine. The ports sit
 * below Linux's ephemeral range (32768+), so a client socket can never be holding one.
 */
export function testPorts(slot: number): StackPorts {
  const base = 24331 + 10 * slot;
  return { gateway: base, db: base + 1, fakeUpstream: base + 2 };
}
