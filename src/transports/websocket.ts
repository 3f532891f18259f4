// Runtime-agnostic: the W3C WebSocket API (browsers, Deno, Node ≥ 22, or the `ws` package passed in).
/** WebSocket transport to gearmand behind the bridge; the token goes in `Sec-WebSocket-Protocol`, never the URL. @module */
import { ConnectionError, InvalidArgumentError, PolicyError } from "../errors.ts";
import type { Connector, Transport, TransportSink } from "../core/transport.ts";

/** The subset of the W3C WebSocket used here; the `ws` package's class fits it too. */
export interface WebSocketLike {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly readyState: number;
  onopen: ((ev: never) => void) | null;
  onmessage: ((ev: never) => void) | null;
  onclose: ((ev: never) => void) | null;
  onerror: ((ev: never) => void) | null;
  send(data: Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: `globalThis.WebSocket`, or `WebSocket` from the `ws` package on Node 20. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Options of {@link websocketConnector}. */
export interface WebSocketTransportOptions {
  /** The WebSocket class. @default globalThis.WebSocket */
  WebSocket?: WebSocketConstructor;
  /** Subprotocols to offer. @default ["gearman.v1"] */
  protocols?: string[];
  /** Bearer token, offered as the subprotocol `bearer.<token>` (base64url, no padding). */
  token?: string;
  /** `bufferedAmount` above which `write` returns false. @default 1048576 */
  highWaterMark?: number;
  /** Milliseconds to wait for the handshake. @default 10000 */
  connectTimeout?: number;
}

// The bridge's policy closes (test-plan section B); anything else is a lost connection.
const POLICY_CODES: ReadonlySet<number> = new Set([1002, 1003, 1008, 1009, 4401]);
// RFC 7230 token characters: browsers throw a SyntaxError for anything else in a subprotocol.
const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const closeError = (code: number, reason: string, url: string): Error => POLICY_CODES.has(code) ? new PolicyError(code, reason)
  : new ConnectionError(`WebSocket ${url} closed (${code})${reason ? `: ${reason}` : ""}`, { server: url });

class WebSocketTransport implements Transport {
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
        this.#finish(new ConnectionError(`${url} sent a text frame; the bridge only sends binary packets`, { server: url }));
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

/**
 * A connector for gearmand behind the bridge (`ws://` or `wss://`).
 * @example
 * ```ts
 * import WebSocket from "ws"; // Node 20 only: browsers, Deno and Node 22 have a global one
 * const transport = await websocketConnector("wss://jobs.example/gearman", { token, WebSocket })();
 * ```
 */
export function websocketConnector(url: string, options: WebSocketTransportOptions = {}): Connector {
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!Ctor) throw new InvalidArgumentError("this runtime has no global WebSocket (Node < 22): pass { WebSocket } from the ws package");
  const { token } = options;
  if (token !== undefined && !TOKEN_CHARS.test(token)) {
    throw new InvalidArgumentError("the token may only hold RFC 7230 token characters: encode it as base64url without padding");
  }
  const protocols = [...(options.protocols ?? ["gearman.v1"]), ...(token === undefined ? [] : [`bearer.${token}`])];
  const timeout = options.connectTimeout ?? 10_000;
  return (signal?: AbortSignal) =>
    new Promise<Transport>((resolve, reject) => {
      const ws = new Ctor(url, protocols);
      ws.binaryType = "arraybuffer";
      let cause: unknown;
      const settle = (result: Transport | Error): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        return result instanceof Error ? reject(result) : resolve(result);
      };
      const fail = (why: string): void => {
        ws.onclose = ws.onopen = null;
        // Closing while CONNECTING fires an error event, which ws throws if nobody listens.
        ws.onerror = () => {};
        ws.close();
        const detail = cause instanceof Error ? `: ${cause.message}` : "";
        settle(new ConnectionError(`cannot connect to ${url}: ${why}${detail}`, { cause, server: url }));
      };
      const onAbort = (): void => fail("connect aborted");
      const timer = setTimeout(() => fail(`no handshake within ${timeout} ms`), timeout);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      ws.onerror = (ev: { error?: unknown }) => void (cause = ev.error ?? cause);
      ws.onclose = (ev: { code: number; reason: string }) =>
        POLICY_CODES.has(ev.code) ? settle(closeError(ev.code, ev.reason, url)) : fail(`closed during the handshake (${ev.code})`);
      ws.onopen = () => settle(new WebSocketTransport(ws, url, options.highWaterMark ?? 1 << 20));
    });
}
