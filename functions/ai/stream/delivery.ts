/**
 * The response body of a streamed call, decoupled from the upstream:
 *
 * - The upstream is read by our own pump, as fast as it produces, whatever the client does, so
 *   settlement never waits on (or depends on) the client.
 * - What the pump forwards is queued here; the response stream hands one queued item to the
 *   client connection each time the server asks for more (high-water mark 0, i.e. when it is
 *   about to write). An item counts as DELIVERED at that moment: `delivered` is the sum of the
 *   `units` of the items handed over (tokens for chat, bytes for audio).
 * - When the client goes away the server cancels the body: `onCancel` runs (the caller settles
 *   and stops the upstream). This — not `request.signal` — is the disconnect signal once the
 *   response has started: Deno (2.x legacy behaviour) also aborts `request.signal` after a
 *   response completed successfully, so that signal cannot tell a normal end from a disconnect.
 */

interface Item {
  bytes: Uint8Array;
  units: number;
}

export class DeliveryQueue {
  readonly stream: ReadableStream<Uint8Array>;
  #items: Item[] = [];
  #wake: (() => void) | null = null;
  #ended = false;
  #failure: Error | null = null;
  #cancelled = false;
  #delivered = 0;
  #deliveredBytes = 0;

  constructor(onCancel: (reason: unknown) => void) {
    this.stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        while (this.#items.length === 0 && !this.#ended && !this.#cancelled) {
          await new Promise<void>((resolve) => (this.#wake = resolve));
        }
        const item = this.#items.shift();
        if (item) {
          this.#delivered += item.units;
          this.#deliveredBytes += item.bytes.byteLength;
          controller.enqueue(item.bytes);
          return;
        }
        if (this.#cancelled) return;
        if (this.#failure) controller.error(this.#failure);
        else controller.close();
      },
      cancel: (reason) => {
        if (this.#cancelled) return;
        this.#cancelled = true;
        this.#items = [];
        this.#notify();
        onCancel(reason);
      },
    }, { highWaterMark: 0 });
  }

  /** True once the client went away (the body was cancelled). */
  get cancelled(): boolean {
    return this.#cancelled;
  }

  /** Units of the items handed to the client connection so far. */
  get delivered(): number {
    return this.#delivered;
  }

  get deliveredBytes(): number {
    return this.#deliveredBytes;
  }

  /** Queues bytes for the client; `units` count as delivered when they are handed over. */
  push(bytes: Uint8Array, units = 0): void {
    if (this.#ended || this.#cancelled) return;
    this.#items.push({ bytes, units });
    this.#notify();
  }

  /** Ends the body after the queued items. */
  end(): void {
    this.#ended = true;
    this.#notify();
  }

  /** Ends the body with an error after the queued items (the client sees a broken transfer). */
  fail(error: Error): void {
    this.#failure = error;
    this.end();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
