import assert from "node:assert/strict";
import {
  asStoredResponse,
  captureResponse,
  replayResponse,
  storedJson,
} from "../../../functions/_shared/idempotency/mod.ts";
import { ApiError } from "../../../functions/_shared/http/errors.ts";

const opts = { maxBytes: 1024 };

Deno.test("captureResponse: JSON, text and binary bodies round-trip through replay", async () => {
  const cases: [Response, string | null][] = [
    [Response.json({ a: 1, b: [true, null] }, { status: 201 }), "application/json"],
    [new Response("plain text", { headers: { "content-type": "text/plain" } }), "text/plain"],
    [
      new Response(new Uint8Array([0, 255, 7]), { headers: { "content-type": "audio/mpeg" } }),
      "audio/mpeg",
    ],
  ];
  for (const [res, type] of cases) {
    const original = new Uint8Array(await res.clone().arrayBuffer());
    const stored = await captureResponse(res, opts);
    const fromDb = asStoredResponse(JSON.parse(JSON.stringify(stored)));
    assert.ok(fromDb);
    const replay = replayResponse(res.status, fromDb);
    assert.equal(replay.status, res.status);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.equal(replay.headers.get("content-type")?.startsWith(type!), true);
    const replayed = new Uint8Array(await replay.arrayBuffer());
    if (type === "application/json") {
      assert.deepEqual(
        JSON.parse(new TextDecoder().decode(replayed)),
        JSON.parse(new TextDecoder().decode(original)),
      );
    } else {
      assert.deepEqual(replayed, original);
    }
    assert.equal(res.bodyUsed, false, "the original response is not consumed");
  }
});

Deno.test("captureResponse: event streams and oversized bodies are not replayable", async () => {
  const sse = new Response("data: x\n\n", { headers: { "content-type": "text/event-stream" } });
  assert.equal((await captureResponse(sse, opts)).notReplayable, "streamed");
  const big = new Response("x".repeat(2000), { headers: { "content-type": "text/plain" } });
  assert.equal((await captureResponse(big, opts)).notReplayable, "too_large");
  const stored = storedJson({});
  stored.notReplayable = "streamed";
  assert.throws(() => replayResponse(200, stored), (err) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, "CONFLICT");
    assert.equal(err.details?.reason, "not_replayable");
    return true;
  });
});

Deno.test("captureResponse: only allow-listed headers are kept", async () => {
  const res = Response.json({}, {
    headers: { "x-request-id": "abc", location: "/jobs/1", "set-cookie": "a=b" },
  });
  const stored = await captureResponse(res, opts);
  assert.deepEqual(Object.keys(stored.headers).sort(), ["content-type", "location"]);
});

Deno.test("asStoredResponse: rejects shapes that are not a stored response", () => {
  for (const v of [null, 1, "x", [], {}, { v: 2, headers: {} }, { v: 1 }]) {
    assert.equal(asStoredResponse(v), null, JSON.stringify(v));
  }
  assert.ok(asStoredResponse(storedJson({ ok: true })));
});

Deno.test("replayResponse: 204 carries no body", async () => {
  const replay = replayResponse(204, { v: 1, headers: {}, text: "" });
  assert.equal(replay.status, 204);
  assert.equal(await replay.text(), "");
});
