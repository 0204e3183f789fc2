/**
 * Circuit breaker, one per upstream key (per edge-function isolate: each isolate learns on its
 * own, which is what we want — no shared state, no extra round trip).
 *
 * closed ──(N consecutive failures, or failure ratio ≥ R over ≥ M calls in the rolling window)──▶ open
 * open ──(cool-down elapsed; the next caller becomes the ONE probe)──▶ half_open
 * half_open ──probe succeeds──▶ closed (counters reset)   half_open ──probe fails──▶ open (new cool-down)
 *
 * What counts (decided here, applied by callUpstream):
 * - failure: connection error, timeout, 5xx, and 429 — a provider that keeps answering 429 is
 *   telling us to back off (often "insufficient_quota", which does not heal by itself); failing
 *   fast then is cheaper for everyone. A single 429 never opens the breaker on its own.
 * - success: 2xx and every other 4xx — the upstream is alive and judged the request itself.
 * - neutral: the caller aborted (the client went away) — says nothing about the upstream.
 */

export type BreakerState = "closed" | "open" | "half_open";

export interface BreakerOptions {
  /** Open after this many consecutive failures. Default 5. */
  consecutiveFailures?: number;
  /** Open when failures / calls ≥ this ratio in the window … Default 0.5. */
  failureRatio?: number;
  /** … and the window holds at least this many calls. Default 20. */
  minCallsInWindow?: number;
  /** Rolling window length. Default 30 000 ms. */
  windowMs?: number;
  /** How long to stay open before allowing one probe. Default 10 000 ms. */
  coolDownMs?: number;
  /** Injectable clock (ms). Default Date.now. */
  now?: () => number;
}

export type BreakerPermit =
  | { allowed: true; probe: boolean; release: (outcome: BreakerOutcome) => void }
  | { allowed: false; retryAfterMs: number };

export type BreakerOutcome = "success" | "failure" | "neutral";

interface Bucket {
  start: number;
  calls: number;
  failures: number;
}

const BUCKETS_PER_WINDOW = 30;

export class CircuitBreaker {
  readonly #consecutiveLimit: number;
  readonly #ratio: number;
  readonly #minCalls: number;
  readonly #windowMs: number;
  readonly #coolDownMs: number;
  readonly #bucketMs: number;
  readonly #now: () => number;

  #state: BreakerState = "closed";
  #consecutive = 0;
  #openedAt = 0;
  #probeInFlight = false;
  #buckets: Bucket[] = [];

  constructor(options: BreakerOptions = {}) {
    this.#consecutiveLimit = options.consecutiveFailures ?? 5;
    this.#ratio = options.failureRatio ?? 0.5;
    this.#minCalls = options.minCallsInWindow ?? 20;
    this.#windowMs = options.windowMs ?? 30_000;
    this.#coolDownMs = options.coolDownMs ?? 10_000;
    this.#bucketMs = Math.max(1, Math.ceil(this.#windowMs / BUCKETS_PER_WINDOW));
    this.#now = options.now ?? Date.now;
  }

  /** Current state; an open breaker whose cool-down elapsed reports "half_open". */
  get state(): BreakerState {
    if (this.#state === "open" && this.#now() - this.#openedAt >= this.#coolDownMs) {
      return "half_open";
    }
    return this.#state;
  }

  /**
   * Asks to make one upstream attempt. When allowed, call `release(outcome)` exactly once
   * (extra calls are ignored). While open (or while the half-open probe is in flight), refuses.
   */
  acquire(): BreakerPermit {
    const now = this.#now();
    if (this.#state === "open") {
      const remaining = this.#openedAt + this.#coolDownMs - now;
      if (remaining > 0) return { allowed: false, retryAfterMs: remaining };
      this.#state = "half_open";
    }
    if (this.#state === "half_open") {
      if (this.#probeInFlight) return { allowed: false, retryAfterMs: this.#coolDownMs };
      this.#probeInFlight = true;
      return { allowed: true, probe: true, release: this.#once(true) };
    }
    return { allowed: true, probe: false, release: this.#once(false) };
  }

  /** Records a failure discovered after the permit was released (e.g. a stream broke midway). */
  recordFailure(): void {
    this.#record("failure", false);
  }

  #once(probe: boolean): (outcome: BreakerOutcome) => void {
    let done = false;
    return (outcome) => {
      if (done) return;
      done = true;
      this.#record(outcome, probe);
    };
  }

  #record(outcome: BreakerOutcome, probe: boolean): void {
    if (probe) this.#probeInFlight = false;
    if (outcome === "neutral") return; // a half-open breaker simply lets the next caller probe
    if (this.#state === "open") return; // late results of calls started before it opened
    if (this.#state === "half_open") {
      if (!probe) return;
      if (outcome === "success") this.#close();
      else this.#open();
      return;
    }
    this.#count(outcome === "failure");
    if (outcome === "success") {
      this.#consecutive = 0;
      return;
    }
    this.#consecutive++;
    if (this.#consecutive >= this.#consecutiveLimit || this.#ratioExceeded()) this.#open();
  }

  #count(failed: boolean): void {
    const now = this.#now();
    const start = now - (now % this.#bucketMs);
    let last = this.#buckets.at(-1);
    if (!last || last.start !== start) {
      last = { start, calls: 0, failures: 0 };
      this.#buckets.push(last);
    }
    last.calls++;
    if (failed) last.failures++;
    const oldest = now - this.#windowMs;
    while (this.#buckets.length > 0 && this.#buckets[0].start + this.#bucketMs <= oldest) {
      this.#buckets.shift();
    }
  }

  #ratioExceeded(): boolean {
    let calls = 0;
    let failures = 0;
    for (const b of this.#buckets) {
      calls += b.calls;
      failures += b.failures;
    }
    return calls >= this.#minCalls && failures / calls >= this.#ratio;
  }

  #open(): void {
    this.#state = "open";
    this.#openedAt = this.#now();
    this.#probeInFlight = false;
  }

  #close(): void {
    this.#state = "closed";
    this.#consecutive = 0;
    this.#buckets = [];
  }
}

/** One breaker per upstream key, created on first use with the registry's options. */
export class BreakerRegistry {
  readonly #breakers = new Map<string, CircuitBreaker>();
  constructor(private readonly options: BreakerOptions = {}) {}

  get(key: string): CircuitBreaker {
    let breaker = this.#breakers.get(key);
    if (!breaker) {
      breaker = new CircuitBreaker(this.options);
      this.#breakers.set(key, breaker);
    }
    return breaker;
  }
}
