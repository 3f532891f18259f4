// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * An in-memory transport pair: what one end writes the other receives, asynchronously and in
 * order, with the same backpressure contract as a socket. For unit tests, the embedded server in
 * a browser page, and the playground's offline demo.
 * @module
 */
import { later } from "../core/schedule.ts";
import type { Transport, TransportSink } from "../core/transport.ts";

/** Options of {@link createMemoryPair}. */
export interface MemoryPairOptions {
  /** Bytes in flight before `write` returns false. @default 1048576 */
  highWaterMark?: number | undefined;
}

class MemoryEnd implements Transport {
  peer!: MemoryEnd;
  readonly remote: string;
  #sink: TransportSink | undefined;
  #inbox: Uint8Array[] = [];
  #inboxBytes = 0;
  #paused = false;
  #closed = false;
  #scheduled = false;
  #hwm: number;
  #wantDrain = false;
  #pendingClose: { error?: Error } | undefined;

  constructor(remote: string, hwm: number) {
    this.remote = remote;
    this.#hwm = hwm;
  }

  start(sink: TransportSink): void {
    this.#sink = sink;
    this.#schedule();
  }

  write(bytes: Uint8Array<ArrayBuffer>): boolean {
    if (this.#closed) return false;
    this.peer.#receive(bytes);
    const ok = this.peer.#inboxBytes < this.#hwm;
    if (!ok) this.#wantDrain = true;
    return ok;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#schedule();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // The peer sees the close after every byte already written, as with TCP FIN.
    this.peer.#finish(undefined);
    this.#finish(undefined);
  }

  /** Breaks the pipe abruptly, as a reset connection does. */
  destroy(error: Error = new Error("memory transport destroyed")): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#inbox = [];
    this.#inboxBytes = 0;
    this.peer.#inbox = [];
    this.peer.#inboxBytes = 0;
    this.peer.#closed = true;
    this.peer.#finish(error);
    this.#finish(error);
  }

  #receive(bytes: Uint8Array): void {
    if (this.#pendingClose) return;
    this.#inbox.push(bytes);
    this.#inboxBytes += bytes.length;
    this.#schedule();
  }

  #finish(error: Error | undefined): void {
    if (this.#pendingClose) return;
    this.#pendingClose = error ? { error } : {};
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled || !this.#sink) return;
    this.#scheduled = true;
    later(() => this.#deliver());
  }

  #deliver(): void {
    this.#scheduled = false;
    const sink = this.#sink;
    if (!sink) return;
    while (!this.#paused && this.#inbox.length > 0) {
      const chunk = this.#inbox.shift()!;
      this.#inboxBytes -= chunk.length;
      sink.data(chunk);
    }
    if (this.#inboxBytes < this.#hwm && this.peer.#wantDrain) {
      this.peer.#wantDrain = false;
      this.peer.#sink?.drain();
    }
    if (this.#pendingClose && this.#inbox.length === 0) {
      const { error } = this.#pendingClose;
      this.#sink = undefined;
      this.#closed = true;
      sink.closed(error);
    }
  }
}

/** One end of an in-memory pair; `destroy()` simulates a reset connection. */
export interface MemoryTransport extends Transport {
  /** Breaks the pipe at once: both ends see `closed(error)`, unread bytes are lost. */
  destroy(error?: Error): void;
}

/**
 * Creates two connected transports. A connector makes one pair per connection, since a closed end stays closed.
 * @example
 * ```ts
 * const server = new JobServer();
 * const client = new Client({ servers: ["memory"], connector: () => async () => {
 *   const [a, b] = createMemoryPair();
 *   server.attach(b);
 *   return a;
 * } });
 * await client.echo("ping");
 * ```
 */
export function createMemoryPair(options: MemoryPairOptions = {}): [MemoryTransport, MemoryTransport] {
  const hwm = options.highWaterMark ?? 1 << 20;
  const a = new MemoryEnd("memory://a", hwm);
  const b = new MemoryEnd("memory://b", hwm);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
