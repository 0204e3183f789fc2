/**
 * `deno task token [--sub UUID] [--anonymous] [--hs256] [--ttl SECONDS]` — prints a user
 * access token the local stack accepts, as Supabase Auth would issue it.
 */
import { mintUserToken } from "./keys.ts";
import { DEV_PORTS } from "./paths.ts";

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

const sub = flag("--sub");
if (sub && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(sub)) {
  console.error("--sub must be a UUID");
  Deno.exit(2);
}
const token = await mintUserToken({
  supabaseUrl: Deno.env.get("SUPABASE_URL") ?? `http://127.0.0.1:${DEV_PORTS.gateway}`,
  sub,
  anonymous: Deno.args.includes("--anonymous"),
  alg: Deno.args.includes("--hs256") ? "HS256" : "ES256",
  hsSecret: Deno.env.get("SUPABASE_JWT_SECRET"),
  ttlSeconds: Number(flag("--ttl") ?? 3600),
});
console.log(token);
