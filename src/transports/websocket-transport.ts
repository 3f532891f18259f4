// Runtime-agnostic: the W3C WebSocket API (browsers, Deno, Node ≥ 22, or the `ws` package passed in).
/**
 * The transport over a WebSocket once it is open: each binary message is a chunk (never assumed to
 * be one packet), held while the reader is paused; writes push back through `bufferedAmount`.
 * @module
 */
import { ConnectionError, PolicyError, type PolicyCloseCode } from "../errors.ts";
import type { Transport, TransportSink } from "../core/transport.ts";
import type { WebSocketLike } from "./websocket.ts";

/** The close codes of the bridge's policy (test-plan section B); any other close is a lost connection. */
export const POLICY_CODES: ReadonlySet<number> = new Set([1002, 1003, 1008, 1009, 4401]);

/** The error a close reports: a `PolicyError` for the policy codes, else a `ConnectionError`. */
export const closeError = (code: number, reason: string, url: string): Error => POLICY_CODES.has(code) ? new PolicyError(code as PolicyCloseCode, reason)
  : new ConnectionError(`WebSocket ${url} closed (${code})${reason ? `: ${reason}` : ""}`, { server: url });

/** A {@link Transport} over an open WebSocket: binary messages in, `bufferedAmount` backpressure out. */
export class WebSocketTransport implements Transport {
  readonly remote: string;
  #ws: WebSocketLike;
  #hwm: number;
  #sink: TransportSink | undefined;
  #queue: Uint8Array[] = [];
  #paused = false;
  #poll: ReturnType<typeof setInterval> | undefined;
  #end: Error | undefined | null = null;

  constructor(ws: WebSocketLike, url: string, hwm: number) {
    this.#ws = ws;
    this.remote = url;
    this.#hwm = hwm;
    // Messages may arrive between `open` and `start`; they wait in the queue.
    ws.onmessage = (ev: { data: unknown }) => {
      if (typeof ev.data === "string") {
        this.#finish(new ConnectionError(`${url} sent a text frame, not binary packets`, { server: url }));
        return ws.close(1003, "binary frames only");
      }
      this.#queue.push(new Uint8Array(ev.data as ArrayBuffer));
      this.#flush();
    };
    ws.onclose = (ev: { code: number; reason: string }) => this.#finish(closeError(ev.code, ev.reason, url));
    ws.onerror = () => {};
  }

  start(sink: TransportSink): void {
    this.#sink = sink;
    this.#flush();
  }

  write(bytes: Uint8Array<ArrayBuffer>): boolean {
    const ws = this.#ws;
    if (ws.readyState !== 1) return false;
    ws.send(bytes);
    if (ws.bufferedAmount <= this.#hwm) return true;
    // The W3C API has no drain event: poll bufferedAmount while it is above the mark.
    this.#poll ??= setInterval(() => {
      if (ws.bufferedAmount > this.#hwm && ws.readyState === 1) return;
      this.#poll = void clearInterval(this.#poll);
      if (ws.readyState === 1) this.#sink?.drain();
    }, 10);
    return false;
  }

  pause(): void {
    // A W3C WebSocket cannot stop reading, so messages are held here until resume().
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#flush();
  }

  close(): void {
    // Ours is a clean close: report it as such, whatever code the peer answers with.
    this.#finish(undefined);
    this.#ws.close(1000, "client closing");
  }

  #flush(): void {
    while (this.#sink && !this.#paused && this.#queue.length > 0) this.#sink.data(this.#queue.shift()!);
    const sink = this.#sink;
    if (!sink || this.#end === null || this.#queue.length > 0) return;
    this.#sink = undefined;
    sink.closed(this.#end);
  }

  #finish(error: Error | undefined): void {
    if (this.#end !== null) return;
    this.#end = error;
    clearInterval(this.#poll);
    this.#flush();
  }
}
