import assert from "node:assert/strict";
import {
  type BreakerOutcome,
  BreakerRegistry,
  CircuitBreaker,
} from "../../../functions/_shared/upstream/mod.ts";
import { fakeTime } from "./helpers.ts";

function record(breaker: CircuitBreaker, outcome: BreakerOutcome): void {
  const permit = breaker.acquire();
  assert.ok(permit.allowed, "expected the breaker to allow the call");
  permit.release(outcome);
}

Deno.test("breaker opens after N consecutive failures and fails fast", () => {
  const time = fakeTime();
  const breaker = new CircuitBreaker({ consecutiveFailures: 5, coolDownMs: 10_000, now: time.now });
  for (let i = 0; i < 4; i++) record(breaker, "failure");
  assert.equal(breaker.state, "closed");
  record(breaker, "failure");
  assert.equal(breaker.state, "open");
  time.advance(4_000);
  const permit = breaker.acquire();
  assert.equal(permit.allowed, false);
  if (!permit.allowed) assert.equal(permit.retryAfterMs, 6_000);
});

Deno.test("a success resets the consecutive count", () => {
  const breaker = new CircuitBreaker({ consecutiveFailures: 3, now: fakeTime().now });
  for (let round = 0; round < 5; round++) {
    record(breaker, "failure");
    record(breaker, "failure");
    record(breaker, "success");
  }
  assert.equal(breaker.state, "closed");
});

Deno.test("breaker opens on a failure ratio once the window holds enough calls", () => {
  const time = fakeTime();
  const breaker = new CircuitBreaker({
    consecutiveFailures: 100,
    failureRatio: 0.5,
    minCallsInWindow: 20,
    windowMs: 30_000,
    now: time.now,
  });
  // alternating: never two failures in a row, 50 % failures
  for (let i = 0; i < 19; i++) {
    record(breaker, i % 2 === 0 ? "success" : "failure");
    time.advance(100);
  }
  assert.equal(breaker.state, "closed", "19 calls are below the minimum");
  record(breaker, "failure");
  assert.equal(breaker.state, "open", "20 calls, 10 failures");
});

Deno.test("the ratio ignores calls that left the rolling window", () => {
  const time = fakeTime();
  const breaker = new CircuitBreaker({
    consecutiveFailures: 100,
    failureRatio: 0.5,
    minCallsInWindow: 20,
    windowMs: 30_000,
    now: time.now,
  });
  for (let i = 0; i < 15; i++) record(breaker, i % 3 === 0 ? "success" : "failure"); // many failures
  record(breaker, "success");
  time.advance(31_000); // all of them expire
  for (let i = 0; i < 19; i++) record(breaker, i < 9 ? "failure" : "success");
  record(breaker, "success");
  assert.equal(breaker.state, "closed", "9 of 20 recent calls failed");
  record(breaker, "failure");
  record(breaker, "failure");
  assert.equal(breaker.state, "open", "11 of 22 recent calls failed");
});

Deno.test("half-open allows exactly one probe; a failed probe re-opens", () => {
  const time = fakeTime();
  const breaker = new CircuitBreaker({ consecutiveFailures: 1, coolDownMs: 10_000, now: time.now });
  record(breaker, "failure");
  time.advance(10_000);
  assert.equal(breaker.state, "half_open");
  const probe = breaker.acquire();
  assert.ok(probe.allowed && probe.probe);
  assert.equal(breaker.acquire().allowed, false, "second caller is refused while probing");
  probe.release("failure");
  assert.equal(breaker.state, "open");
  const refused = breaker.acquire();
  assert.equal(refused.allowed, false);
  if (!refused.allowed) assert.equal(refused.retryAfterMs, 10_000, "a fresh cool-down");
});

Deno.test("a successful probe closes the breaker and resets its counters", () => {
  const time = fakeTime();
  const breaker = new CircuitBreaker({ consecutiveFailures: 2, coolDownMs: 1_000, now: time.now });
  record(breaker, "failure");
  record(breaker, "failure");
  assert.equal(breaker.state, "open");
  time.advance(1_000);
  const probe = breaker.acquire();
  assert.ok(probe.allowed && probe.probe);
  probe.release("success");
  probe.release("failure"); // a second release is ignored
  assert.equal(breaker.state, "closed");
  record(breaker, "failure");
  assert.equal(breaker.state, "closed", "one failure after closing is not two in a row");
  const a = breaker.acquire();
  const b = breaker.acquire();
  assert.ok(a.allowed && !a.probe && b.allowed);
});

Deno.test("a neutral probe (client went away) lets the next caller probe", () => {
  const time = fakeTime();
  const breaker = new CircuitBreaker({ consecutiveFailures: 1, coolDownMs: 1_000, now: time.now });
  record(breaker, "failure");
  time.advance(1_000);
  const probe = breaker.acquire();
  assert.ok(probe.allowed);
  probe.release("neutral");
  const next = breaker.acquire();
  assert.ok(next.allowed && next.probe);
});

Deno.test("neutral outcomes never count and late results while open are ignored", () => {
  const time = fakeTime();
  const breaker = new CircuitBreaker({ consecutiveFailures: 2, coolDownMs: 1_000, now: time.now });
  for (let i = 0; i < 10; i++) record(breaker, "neutral");
  assert.equal(breaker.state, "closed");
  const early = breaker.acquire(); // started before the breaker opened
  record(breaker, "failure");
  record(breaker, "failure");
  assert.ok(early.allowed);
  early.release("success");
  assert.equal(breaker.state, "open", "a late success does not close an open breaker");
});

Deno.test("the registry keeps one breaker per upstream key", () => {
  const registry = new BreakerRegistry({ consecutiveFailures: 1 });
  assert.equal(registry.get("openai"), registry.get("openai"));
  assert.notEqual(registry.get("openai"), registry.get("other"));
  record(registry.get("openai"), "failure");
  assert.equal(registry.get("openai").state, "open");
  assert.equal(registry.get("other").state, "closed");
});
