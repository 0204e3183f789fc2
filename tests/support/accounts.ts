/** Test users with credits, set up the way a client would meet them. */
import { newUser } from "./auth.ts";
import { withAdmin } from "./db.ts";
import { fnUrl } from "./env.ts";

/** A user from `newUser`: id, token and bearer header. */
export type TestUser = Awaited<ReturnType<typeof newUser>>;

/** Credits a new account starts with (the runner passes INITIAL_GRANT to the functions). */
export const INITIAL_GRANT = Number(Deno.env.get("INITIAL_GRANT") ?? "3");

/**
 * A new user whose account was created by its first API call (so it got INITIAL_GRANT) and then
 * topped up to `credits` in total; with `credits` ≤ INITIAL_GRANT it holds just the grant.
 */
export async function fundedThroughApi(credits: number): Promise<TestUser> {
  const user = await newUser();
  const res = await fetch(fnUrl("/credits/balance"), { headers: user.headers });
  await res.body?.cancel();
  if (credits > INITIAL_GRANT) {
    await withAdmin((sql) =>
      sql`select * from api.grant(${user.id}::uuid, ${
        credits - INITIAL_GRANT
      }::bigint, 'admin', 'test:topup')`
    );
  }
  return user;
}
