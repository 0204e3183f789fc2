/**
 * The local stand-in for Supabase's gateway (ARCHITECTURE §3.4): one Deno server that
 * mounts every function's Hono app at /functions/v1/<name>/… and strips the prefix exactly
 * as Supabase does (the function sees /<name>/…), and serves the project's JWKS at
 * /auth/v1/.well-known/jwks.json.
 *
 * Run as a process of its own with the function environment already set:
 *   deno run -A supabase/local/gateway.ts --port 54321
 */
import { errorResponse } from "../../functions/_shared/http/errors.ts";
import { dbErrorLogWriter, setErrorLogWriter } from "../../functions/_shared/errorlog/index.ts";
import { jwks, loadSigningKey } from "./keys.ts";
import { configuredFunctions } from "./functions.ts";

type FetchHandler = (request: Request) => Response | Promise<Response>;
type GatewayHandler = (
  request: Request,
  info?: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

async function loadApps(): Promise<Map<string, FetchHandler>> {
  const apps = new Map<string, FetchHandler>();
  for (const name of await configuredFunctions()) {
    const mod = await import(`../../functions/${name}/app.ts`);
    const app = mod.createApp();
    apps.set(name, (request) => app.fetch(request));
  }
  return apps;
}

const PREFIX = "/functions/v1/";

export async function createGateway(): Promise<GatewayHandler> {
  const apps = await loadApps();
  const keySet = jwks(await loadSigningKey());

  return (request: Request, info?: Deno.ServeHandlerInfo): Response | Promise<Response> => {
    const url = new URL(request.url);
    if (url.pathname === "/auth/v1/.well-known/jwks.json") {
      return Response.json(keySet, { headers: { "cache-control": "public, max-age=600" } });
    }
    const name = url.pathname.startsWith(PREFIX)
      ? url.pathname.slice(PREFIX.length).split("/")[0]
      : "";
    const app = apps.get(name);
    if (!app) {
      const requestId = crypto.randomUUID();
      return errorResponse("NOT_FOUND", `No function named "${name}"`, requestId);
    }
    url.pathname = url.pathname.slice(PREFIX.length - 1);
    const headers = new Headers(request.headers);
    // Only the platform proxy may name the client: a client-sent CF-Connecting-IP is dropped,
    // and the connecting address is appended to X-Forwarded-For as Supabase's proxy does.
    headers.delete("cf-connecting-ip");
    const remote = info && "hostname" in info.remoteAddr ? info.remoteAddr.hostname : "";
    if (remote) {
      const prior = headers.get("x-forwarded-for");
      headers.set("x-forwarded-for", prior ? `${prior}, ${remote}` : remote);
    }
    return app(
      new Request(url, {
        method: request.method,
        headers,
        body: request.body,
        signal: request.signal,
      }),
    );
  };
}

if (import.meta.main) {
  const portFlag = Deno.args.indexOf("--port");
  const port = portFlag >= 0 ? Number(Deno.args[portFlag + 1]) : 54321;
  // As on Supabase, 500s go to ops.error_log after the response.
  setErrorLogWriter(dbErrorLogWriter);
  const handler = await createGateway();
  Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: () => console.log(`[gateway] listening on ${port}`),
  }, handler);
}
