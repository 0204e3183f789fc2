/** The stack's HTTP processes: the function gateway and, when needed, the fake upstream. */
import { ROOT, type StackPorts } from "./paths.ts";

export interface RunningServices {
  stop(): Promise<void>;
}

function spawnDeno(script: string, args: string[], env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
}

async function waitForHttp(
  url: string,
  child: Deno.ChildProcess,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.status.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`process serving ${url} exited before it was ready`);
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
}

export async function startServices(
  ports: StackPorts,
  env: Record<string, string>,
  opts: { fakeUpstream: boolean },
): Promise<RunningServices> {
  const children: Deno.ChildProcess[] = [];
  const stop = async () => {
    for (const child of children) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
    }
  };
  try {
    if (opts.fakeUpstream) {
      const fake = spawnDeno("tests/fakes/openai_upstream.ts", [
        "--port",
        String(ports.fakeUpstream),
      ], env);
      children.push(fake);
      await waitForHttp(`http://127.0.0.1:${ports.fakeUpstream}/__control/stats`, fake);
    }
    const gateway = spawnDeno("supabase/local/gateway.ts", ["--port", String(ports.gateway)], env);
    children.push(gateway);
    await waitForHttp(`http://127.0.0.1:${ports.gateway}/auth/v1/.well-known/jwks.json`, gateway);
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}
