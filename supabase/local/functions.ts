/** The project's functions, read from supabase/config.toml as the supabase CLI does. */
import { ROOT } from "./paths.ts";
import { join } from "./path.ts";

export async function configuredFunctions(): Promise<string[]> {
  const toml = await Deno.readTextFile(join(ROOT, "supabase/config.toml"));
  return [...toml.matchAll(/^\[functions\.([a-z0-9_-]+)\]/gm)].map((m) => m[1]);
}
