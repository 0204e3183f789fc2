/** Test doubles for the upstream module: virtual clock/sleep and a scripted fetch. */

export interface FakeTime {
  now: () => number;
  /** Instant; advances the virtual clock and records the requested pause. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  sleeps: number[];
  advance(ms: number): void;
}

/** Starts on a whole second so HTTP-dates (second resolution) round-trip exactly. */
export function fakeTime(start = 1_700_000_000_000): FakeTime {
  let t = start;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: (ms) => {
      sleeps.push(ms);
      t += ms;
      return Promise.resolve();
    },
    sleeps,
    advance(ms) {
      t += ms;
    },
  };
}

export type Step = Response | Error | "hang" | ((signal: AbortSignal) => Promise<Response>);

export interface ScriptedFetch {
  fetch: typeof fetch;
  calls: { url: string; init: RequestInit }[];
}

/** Each call consumes the next step (the last one repeats): a Response, a thrown Error, or "hang". */
export function scriptedFetch(...steps: Step[]): ScriptedFetch {
  const calls: ScriptedFetch["calls"] = [];
  const fn = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    calls.push({ url: String(input), init });
    const step = steps[Math.min(calls.length - 1, steps.length - 1)];
    const signal = init.signal!;
    if (step instanceof Response) return Promise.resolve(step.clone());
    if (step instanceof Error) return Promise.reject(step);
    if (step === "hang") {
      return new Promise((_, reject) => {
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    }
    return step(signal);
  };
  return { fetch: fn as typeof fetch, calls };
}

export function status(code: number, headers: HeadersInit = {}, body = ""): Response {
  return new Response(body || null, { status: code, headers });
}

export function ok(body = '{"ok":true}'): Response {
  return new Response(body, { status: 200, headers: { "content-type": "application/json" } });
}

export const API_KEY = "sk-test-server-secret-0123456789";

export function headers(): Headers {
  const h = new Headers();
  h.set("Authorization", `Bearer ${API_KEY}`);
  h.set("Content-Type", "application/json");
  h.set("Accept", "application/json");
  return h;
}
