/** One delivery: signed POST, in-process retries with backoff on 5xx/429/network errors only. */
import assert from "node:assert/strict";
import { type AlertPayload, deliverAlert } from "../../../functions/_shared/alerts/deliver.ts";
import { verifySignature } from "../../../functions/_shared/alerts/signature.ts";

const SECRET = "test-alert-signing-secret-0123456789abcdef";
const URL_ = new URL("https://hooks.example.com/hook");
const PAYLOAD: AlertPayload = {
  title: "t",
  severity: "critical",
  message: "m",
  timestamp: "2031-01-01T00:00:00.000Z",
  environment: "production",
  details: { alertId: "a1" },
};

function scripted(statuses: (number | "error")[]) {
  const requests: Request[] = [];
  const fetchFn = (input: RequestInfo | URL, init?: RequestInit) => {
    requests.push(new Request(input, init));
    const next = statuses.shift() ?? 200;
    if (next === "error") return Promise.reject(new TypeError("connection refused"));
    return Promise.resolve(new Response(next === 204 ? null : "ok", { status: next }));
  };
  return { fetch: fetchFn as typeof fetch, requests };
}

const noSleep = () => Promise.resolve();

Deno.test("a delivery is a signed JSON POST with the alert id", async () => {
  const { fetch, requests } = scripted([200]);
  const result = await deliverAlert(URL_, "a1", PAYLOAD, { secret: SECRET, fetch, sleep: noSleep });
  assert.deepEqual(result, { ok: true, tries: 1, status: 200 });
  const req = requests[0];
  assert.equal(req.method, "POST");
  assert.equal(req.headers.get("x-tollgate-alert-id"), "a1");
  assert.equal(req.redirect, "manual");
  const body = await req.text();
  assert.deepEqual(Object.keys(JSON.parse(body)).sort(), [
    "details",
    "environment",
    "message",
    "severity",
    "timestamp",
    "title",
  ]);
  assert.equal(await verifySignature(SECRET, body, req.headers.get("x-tollgate-signature")), true);
});

Deno.test("5xx, 429 and connection errors are retried with backoff; then it succeeds", async () => {
  const { fetch, requests } = scripted([500, "error", 429, 204]);
  const waits: number[] = [];
  const result = await deliverAlert(URL_, "a1", PAYLOAD, {
    secret: SECRET,
    fetch,
    attempts: 4,
    backoffMs: 100,
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
  });
  assert.equal(result.ok, true);
  assert.equal(result.tries, 4);
  assert.equal(requests.length, 4);
  assert.equal(waits.length, 3);
  waits.forEach((ms, i) =>
    assert.ok(ms >= 0 && ms <= 100 * 2 ** i, `wait ${i} within its backoff cap`)
  );
  assert.equal(
    new Set(requests.map((r) => r.headers.get("x-tollgate-alert-id"))).size,
    1,
    "the same alert id every time",
  );
});

Deno.test("other 4xx and redirects are not retried in-process", async () => {
  for (const status of [400, 404, 302]) {
    const { fetch, requests } = scripted([status, 200]);
    const result = await deliverAlert(URL_, "a1", PAYLOAD, {
      secret: SECRET,
      fetch,
      sleep: noSleep,
    });
    assert.deepEqual(result, { ok: false, tries: 1, status, error: `HTTP ${status}` });
    assert.equal(requests.length, 1);
  }
});

Deno.test("when every try fails the last error is reported", async () => {
  const { fetch } = scripted([503, 503, 503]);
  const result = await deliverAlert(URL_, "a1", PAYLOAD, { secret: SECRET, fetch, sleep: noSleep });
  assert.deepEqual(result, { ok: false, tries: 3, status: 503, error: "HTTP 503" });
  const failing = scripted(["error", "error", "error"]);
  const r2 = await deliverAlert(URL_, "a1", PAYLOAD, {
    secret: SECRET,
    fetch: failing.fetch,
    sleep: noSleep,
  });
  assert.equal(r2.ok, false);
  assert.match(String(r2.error), /connection failed/);
});
