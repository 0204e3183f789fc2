import assert from "node:assert/strict";
import OpenAI from "openai";
import {
  isDoneEvent,
  readSseEvents,
  serializeSseData,
  serializeSseError,
  serializeSseEvent,
  SSE_DONE,
  type SseEvent,
  SseParser,
} from "../../../functions/_shared/upstream/mod.ts";

const STREAM = ": keep-alive comment\r\n" +
  'data: {"n":1,"text":"h\u00e9llo \u{1F600}"}\r\n\r\n' +
  "event: update\nid: 7\nretry: 1500\ndata: line one\ndata: line two\n\n" +
  "data\n\n" + // a field without a colon: empty data line
  "event: nodata\n\n" + // no data → not dispatched
  "data:no-space\r\r" + // CR-only line endings
  'event: error\ndata: {"error":{"code":"X"}}\n\n' +
  "data: [DONE]\n\n";

const EXPECTED: SseEvent[] = [
  { data: '{"n":1,"text":"h\u00e9llo \u{1F600}"}' },
  { event: "update", id: "7", retry: 1500, data: "line one\nline two" },
  { data: "" },
  { data: "no-space" },
  { event: "error", data: '{"error":{"code":"X"}}' },
  { data: "[DONE]" },
];

Deno.test("the SSE parser reads a whole stream", () => {
  const parser = new SseParser();
  const events = [...parser.push(new TextEncoder().encode(STREAM)), ...parser.end()];
  assert.deepEqual(events, EXPECTED);
  assert.ok(isDoneEvent(events.at(-1)!));
});

Deno.test("the SSE parser gives the same events however the bytes are split", () => {
  const bytes = new TextEncoder().encode(STREAM);
  for (let cut = 1; cut < bytes.length; cut++) {
    const parser = new SseParser();
    const events = [
      ...parser.push(bytes.subarray(0, cut)),
      ...parser.push(bytes.subarray(cut)),
      ...parser.end(),
    ];
    assert.deepEqual(events, EXPECTED, `split at byte ${cut}`);
  }
  // and byte by byte
  const parser = new SseParser();
  const events: SseEvent[] = [];
  for (const b of bytes) events.push(...parser.push(Uint8Array.of(b)));
  events.push(...parser.end());
  assert.deepEqual(events, EXPECTED);
});

Deno.test("an event cut off by the end of the stream is reported as partial and dropped", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push("data: complete\n\ndata: half"), [{ data: "complete" }]);
  assert.equal(parser.hasPartialEvent, true);
  assert.deepEqual(parser.end(), []);
  const clean = new SseParser();
  clean.push("data: a\n\n");
  assert.equal(clean.hasPartialEvent, false);
});

Deno.test("readSseEvents yields events and cancels the body when the reader stops early", async () => {
  let cancelled = false;
  const chunks = ["data: 1\n", "\ndata: 2\n\nda", "ta: 3\n\n", "data: [DONE]\n\n"];
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(new TextEncoder().encode(next));
    },
    cancel() {
      cancelled = true;
    },
  });
  const seen: string[] = [];
  for await (const event of readSseEvents(body)) {
    seen.push(event.data);
    if (event.data === "2") break; // e.g. the job's hold is used up
  }
  assert.deepEqual(seen, ["1", "2"]);
  assert.equal(cancelled, true);
});

Deno.test("readSseEvents throws when the connection breaks", async () => {
  let n = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (n++ === 0) controller.enqueue(new TextEncoder().encode("data: 1\n\n"));
      else controller.error(new TypeError("error reading a body from connection"));
    },
  });
  const seen: string[] = [];
  await assert.rejects(async () => {
    for await (const event of readSseEvents(body)) seen.push(event.data);
  }, TypeError);
  assert.deepEqual(seen, ["1"]);
});

Deno.test("serializers produce what the parser reads back", () => {
  const event: SseEvent = { event: "x", id: "1", data: "a\nb" };
  assert.equal(serializeSseEvent(event), "event: x\nid: 1\ndata: a\ndata: b\n\n");
  assert.equal(serializeSseData({ a: 1 }), 'data: {"a":1}\n\n');
  assert.equal(SSE_DONE, "data: [DONE]\n\n");
  const parser = new SseParser();
  assert.deepEqual(parser.push(serializeSseEvent(event)), [event]);
});

Deno.test("serializeSseError emits our envelope as an `error` event", () => {
  const text = serializeSseError({
    code: "INSUFFICIENT_CREDITS",
    message: "the job's hold is used up",
    requestId: "req_1",
  });
  assert.equal(
    text,
    'event: error\ndata: {"error":{"code":"INSUFFICIENT_CREDITS",' +
      '"message":"the job\'s hold is used up","requestId":"req_1"}}\n\n',
  );
});

Deno.test("the openai SDK surfaces our final error event as an APIError", async () => {
  const chunk = {
    id: "c1",
    object: "chat.completion.chunk",
    created: 1,
    model: "gpt-4o-mini",
    choices: [{ index: 0, delta: { content: "partial" }, finish_reason: null }],
  };
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () =>
      new Response(
        serializeSseData(chunk) +
          serializeSseError({
            code: "INSUFFICIENT_CREDITS",
            message: "the job's hold is used up",
            requestId: "req_9",
          }),
        { headers: { "content-type": "text/event-stream" } },
      ),
  );
  try {
    const client = new OpenAI({
      baseURL: `http://127.0.0.1:${server.addr.port}/v1`,
      apiKey: "jwt",
      maxRetries: 0,
    });
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    });
    const received: string[] = [];
    const error = await (async () => {
      try {
        for await (const c of stream) received.push(c.choices[0]?.delta?.content ?? "");
      } catch (e) {
        return e;
      }
    })();
    assert.deepEqual(received, ["partial"]);
    assert.ok(error instanceof OpenAI.APIError, `got ${error}`);
    assert.equal(error.code, "INSUFFICIENT_CREDITS");
    assert.equal(error.message, "the job's hold is used up");
  } finally {
    await server.shutdown();
  }
});
