// Runtime-agnostic: the W3C WebSocket API (browsers, Deno, Node ≥ 22, or the `ws` package passed in).
/**
 * WebSocket connector to gearmand behind the bridge: the handshake, its deadline, and the bearer
 * token, which goes in `Sec-WebSocket-Protocol`, never the URL. The transport it yields is in
 * websocket-transport.ts.
 * @module
 */
import { ConnectionError, InvalidArgumentError } from "../errors.ts";
import type { Connector } from "../core/transport.ts";
import { connectAttempt } from "./attempt.ts";
import { closeError, POLICY_CODES, WebSocketTransport } from "./websocket-transport.ts";

/** The subset of the W3C WebSocket used here; the `ws` package's class fits it too. */
export interface WebSocketLike {
  /** Set to `"arraybuffer"` by the transport, so that messages arrive as bytes. */
  binaryType: string;
  /** Bytes queued by `send` and not yet handed to the network: the transport's backpressure signal. */
  readonly bufferedAmount: number;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Called once the connection is open. */
  onopen: ((ev: never) => void) | null;
  /** Called per message; the transport reads `ev.data` (an `ArrayBuffer` for binary messages). */
  onmessage: ((ev: never) => void) | null;
  /** Called once the connection is closed; the transport reads `ev.code` and `ev.reason`. */
  onclose: ((ev: never) => void) | null;
  /** Called when the connection fails (a close event follows). */
  onerror: ((ev: never) => void) | null;
  /** Sends one binary message. */
  send(data: Uint8Array<ArrayBuffer>): void;
  /** Starts the closing handshake, with an optional close code and reason. */
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: `globalThis.WebSocket`, or `WebSocket` from the `ws` package on Node 20. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Options of {@link websocketConnector}. */
export interface WebSocketTransportOptions {
  /** The WebSocket class. @default globalThis.WebSocket */
  WebSocket?: WebSocketConstructor | undefined;
  /** Subprotocols to offer. @default ["gearman.v1"] */
  protocols?: readonly string[] | undefined;
  /** Bearer token, offered as the subprotocol `bearer.<token>` (base64url, no padding). */
  token?: string | undefined;
  /** `bufferedAmount` above which `write` returns false. @default 1048576 */
  highWaterMark?: number | undefined;
  /** Milliseconds to wait for the handshake. @default 10000 */
  connectTimeout?: number | undefined;
}

// RFC 7230 token characters: browsers throw a SyntaxError for anything else in a subprotocol.
const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * A connector for gearmand behind the bridge (`ws://` or `wss://`). Each call of the connector opens one WebSocket;
 * it rejects with a `PolicyError` when the bridge closes the handshake with a policy code, and with a
 * `ConnectionError` otherwise (a refusal at the upgrade reaches a page as close 1006, no handshake within
 * `connectTimeout`, an aborted signal, a WebSocket constructor that throws).
 * @throws {InvalidArgumentError} without a WebSocket class, or for a token that is not base64url without padding.
 * @example
 * ```ts
 * import WebSocket from "ws"; // Node 20 only: browsers, Deno and Node 22 have a global one
 * const transport = await websocketConnector("wss://jobs.example/gearman", { token, WebSocket })();
 * ```
 */
export function websocketConnector(url: string, options: WebSocketTransportOptions = {}): Connector {
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!Ctor) throw new InvalidArgumentError("no global WebSocket: pass { WebSocket } from the ws package");
  const { token } = options;
  if (token !== undefined && !TOKEN_CHARS.test(token)) {
    throw new InvalidArgumentError("the token must be base64url without padding");
  }
  const protocols = [...(options.protocols ?? ["gearman.v1"]), ...(token === undefined ? [] : [`bearer.${token}`])];
  const timeout = options.connectTimeout ?? 10_000;
  return (signal?: AbortSignal) =>
    connectAttempt(signal, timeout, `no handshake within ${timeout} ms`, (settle) => {
      let cause: unknown;
      const error = (why: string): ConnectionError =>
        new ConnectionError(`cannot connect to ${url}: ${why}${cause instanceof Error ? `: ${cause.message}` : ""}`, { cause, server: url });
      let ws: WebSocketLike;
      try {
        ws = new Ctor(url, protocols);
      } catch (err) {
        // A bad URL, a blocked port, Deno without --allow-net: the constructor throws (a SyntaxError, SecurityError, NotCapable).
        cause = err;
        throw error("the WebSocket constructor refused");
      }
      ws.binaryType = "arraybuffer";
      const fail = (why: string): void => {
        ws.onclose = ws.onopen = null;
        // Closing while CONNECTING fires an error event, which ws throws if nobody listens.
        ws.onerror = () => {};
        ws.close();
        settle(error(why));
      };
      ws.onerror = (ev: { error?: unknown }) => void (cause = ev.error ?? cause);
      ws.onclose = (ev: { code: number; reason: string }) =>
        POLICY_CODES.has(ev.code) ? settle(closeError(ev.code, ev.reason, url)) : fail(`closed during the handshake (${ev.code})`);
      ws.onopen = () => settle(new WebSocketTransport(ws, url, options.highWaterMark ?? 1 << 20));
      return fail;
    });
}
