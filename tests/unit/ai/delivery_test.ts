import assert from "node:assert/strict";
import { DeliveryQueue } from "../../../functions/ai/stream/delivery.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("DeliveryQueue counts units only when the reader takes an item", async () => {
  const queue = new DeliveryQueue(() => {});
  queue.push(bytes("a"), 1);
  queue.push(bytes("bb"), 2);
  queue.push(bytes("ccc"), 3);
  assert.equal(queue.delivered, 0, "queued is not delivered");
  const reader = queue.stream.getReader();
  assert.deepEqual((await reader.read()).value, bytes("a"));
  assert.equal(queue.delivered, 1);
  await reader.read();
  assert.equal(queue.delivered, 3);
  assert.equal(queue.deliveredBytes, 3);
  queue.end();
  await reader.read();
  assert.equal((await reader.read()).done, true);
  assert.equal(queue.delivered, 6);
});

Deno.test("DeliveryQueue waits for items, then ends", async () => {
  const queue = new DeliveryQueue(() => {});
  const reader = queue.stream.getReader();
  const pending = reader.read();
  setTimeout(() => queue.push(bytes("late"), 4), 5);
  assert.deepEqual((await pending).value, bytes("late"));
  setTimeout(() => queue.end(), 5);
  assert.equal((await reader.read()).done, true);
});

Deno.test("DeliveryQueue reports a cancelled body once and drops what was not taken", async () => {
  let cancels = 0;
  const queue = new DeliveryQueue(() => cancels++);
  queue.push(bytes("a"), 1);
  queue.push(bytes("b"), 1);
  const reader = queue.stream.getReader();
  await reader.read();
  await reader.cancel("client gone");
  assert.equal(cancels, 1);
  assert.equal(queue.cancelled, true);
  assert.equal(queue.delivered, 1, "the second item never reached the client");
  queue.push(bytes("c"), 1);
  assert.equal(queue.delivered, 1);
});

Deno.test("DeliveryQueue.fail errors the body after the queued items", async () => {
  const queue = new DeliveryQueue(() => {});
  queue.push(bytes("audio"), 5);
  queue.fail(new Error("upstream broke"));
  const reader = queue.stream.getReader();
  assert.deepEqual((await reader.read()).value, bytes("audio"));
  await assert.rejects(reader.read(), /upstream broke/);
});
