// Runtime-agnostic: the W3C WebSocket API (browsers, Deno, Node ≥ 22, or the `ws` package passed in).
/**
 * WebSocket transport, for talking to gearmand through the policy-enforcing bridge. Binary frames
 * only; the bearer token travels in `Sec-WebSocket-Protocol`, never in the URL.
 * @module
 */
import { ConnectionError, InvalidArgumentError, PolicyError } from "../errors.ts";
import type { Connector, Transport, TransportSink } from "../core/transport.ts";

/** The subset of the W3C WebSocket this transport uses; the `ws` package's class fits it too. */
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

/** Close codes the bridge uses for policy violations (test-plan section B). */
const POLICY_CODES: ReadonlySet<number> = new Set([1002, 1003, 1008, 1009, 4401]);
// RFC 7230 token characters: browsers throw a SyntaxError for anything else in a subprotocol.
const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const DRAIN_POLL_MS = 10;

/** Maps a close that we did not ask for to the error the core reports. */
function closeError(code: number, reason: string, remote: string): Error {
  if (POLICY_CODES.has(code)) return new PolicyError(code, reason);
  return new ConnectionError(`WebSocket ${remote} closed (${code})${reason ? `: ${reason}` : ""}`, { server: remote });
}

class WebSocketTransport implements Transport {
  readonly remote: string;
  #ws: WebSocketLike;
  #hwm: number;
  #sink: TransportSink | undefined;
  #queue: Uint8Array[] = [];
  #paused = false;
  #closing = false;
  #drainTimer: ReturnType<typeof setInterval> | undefined;
  #ended: Error | undefined | null = null;

  constructor(ws: WebSocketLike, remote: string, hwm: number) {
    this.#ws = ws;
    this.remote = remote;
    this.#hwm = hwm;
    // Messages can arrive between `open` and `start`; hold them until there is a sink.
    ws.onmessage = (ev: { data: unknown }) => {
      if (typeof ev.data === "string") {
        this.#finish(new ConnectionError(`${remote} sent a text frame; the bridge only sends binary packets`, { server: remote }));
        ws.close(1003, "binary frames only");
        return;
      }
      this.#deliver(new Uint8Array(ev.data as ArrayBuffer));
    };
    ws.onclose = (ev: { code: number; reason: string }) => {
      this.#finish(this.#closing && ev.code === 1000 ? undefined : closeError(ev.code, ev.reason, remote));
    };
    ws.onerror = () => {};
  }

  start(sink: TransportSink): void {
    this.#sink = sink;
    this.#flush();
  }

  write(bytes: Uint8Array<ArrayBuffer>): boolean {
    if (this.#ws.readyState !== 1) return false;
    this.#ws.send(bytes);
    if (this.#ws.bufferedAmount <= this.#hwm) return true;
    // The W3C API has no drain event, so poll bufferedAmount while above the mark.
    this.#drainTimer ??= setInterval(() => {
      if (this.#ws.bufferedAmount > this.#hwm && this.#ws.readyState === 1) return;
      clearInterval(this.#drainTimer);
      this.#drainTimer = undefined;
      if (this.#ws.readyState === 1) this.#sink?.drain();
    }, DRAIN_POLL_MS);
    return false;
  }

  pause(): void {
    // The W3C WebSocket cannot stop reading; messages are held here until resume().
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#flush();
  }

  close(): void {
    this.#closing = true;
    this.#ws.close(1000, "client closing");
  }

  #deliver(chunk: Uint8Array): void {
    if (this.#sink && !this.#paused && this.#queue.length === 0) this.#sink.data(chunk);
    else this.#queue.push(chunk);
  }

  #flush(): void {
    while (this.#sink && !this.#paused && this.#queue.length > 0) this.#sink.data(this.#queue.shift()!);
    if (this.#sink && this.#ended !== null && this.#queue.length === 0) {
      const sink = this.#sink;
      this.#sink = undefined;
      sink.closed(this.#ended);
    }
  }

  #finish(error: Error | undefined): void {
    if (this.#ended !== null) return;
    this.#ended = error;
    clearInterval(this.#drainTimer);
    this.#flush();
  }
}

/**
 * A connector for a gearmand behind the bridge (`ws://` or `wss://`).
 * @example
 * ```ts
 * import WebSocket from "ws"; // Node 20 only; browsers, Deno and Node 22 have a global one
 * const connect = websocketConnector("wss://jobs.example/gearman", { token, WebSocket });
 * const transport = await connect();
 * ```
 */
export function websocketConnector(url: string, options: WebSocketTransportOptions = {}): Connector {
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!Ctor) {
    throw new InvalidArgumentError("this runtime has no global WebSocket (Node < 22): pass { WebSocket } from the ws package");
  }
  const protocols = [...(options.protocols ?? ["gearman.v1"])];
  if (options.token !== undefined) {
    if (!TOKEN_CHARS.test(options.token)) {
      throw new InvalidArgumentError("the token may only hold RFC 7230 token characters: encode it as base64url without padding");
    }
    protocols.push(`bearer.${options.token}`);
  }
  const hwm = options.highWaterMark ?? 1 << 20;
  const timeout = options.connectTimeout ?? 10_000;
  return (signal?: AbortSignal) =>
    new Promise<Transport>((resolve, reject) => {
      const ws = new Ctor(url, protocols);
      ws.binaryType = "arraybuffer";
      let error: unknown;
      const fail = (why: string): void => {
        cleanup();
        ws.onclose = ws.onerror = ws.onopen = null;
        ws.close();
        const detail = error instanceof Object && "message" in error ? `: ${String(error.message)}` : "";
        reject(new ConnectionError(`cannot connect to ${url}: ${why}${detail}`, { cause: error, server: url }));
      };
      const onAbort = (): void => fail("connect aborted");
      const timer = setTimeout(() => fail(`no handshake within ${timeout} ms`), timeout);
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      ws.onerror = (ev: { error?: unknown }) => {
        error = ev.error ?? error;
      };
      ws.onclose = (ev: { code: number; reason: string }) => {
        if (POLICY_CODES.has(ev.code)) {
          cleanup();
          return reject(closeError(ev.code, ev.reason, url));
        }
        fail(`closed during the handshake (${ev.code})`);
      };
      ws.onopen = () => {
        cleanup();
        resolve(new WebSocketTransport(ws, url, hwm));
      };
    });
}
