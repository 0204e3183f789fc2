/** Tokens for tests, minted exactly as `deno task token` does. */
import { mintUserToken, type TokenOptions } from "../../supabase/local/keys.ts";
import { testEnv } from "./env.ts";

export type TestTokenOptions = Omit<TokenOptions, "supabaseUrl" | "hsSecret">;

export async function mintToken(opts: TestTokenOptions = {}): Promise<string> {
  return await mintUserToken({
    supabaseUrl: testEnv("SUPABASE_URL"),
    hsSecret: testEnv("SUPABASE_JWT_SECRET"),
    ...opts,
  });
}

/** A fresh user: its id and a bearer header. */
export async function newUser(
  opts: TestTokenOptions = {},
): Promise<{ id: string; token: string; headers: Record<string, string> }> {
  const id = opts.sub ?? crypto.randomUUID();
  const token = await mintToken({ ...opts, sub: id });
  return { id, token, headers: { authorization: `Bearer ${token}` } };
}
