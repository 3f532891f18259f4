// Browser: the W3C WebSocket for ws:// and wss://; tcp:// and host:port throw, naming the bridge.
/**
 * The browser entry's connector factory, and its `tcpConnector`, which always throws.
 * @module
 */
import type { Connector, ConnectorOptions } from "../core/transport.ts";
import type { TcpOptions } from "./address.ts";
import { websocketConnector } from "./websocket.ts";

/** Browsers cannot open TCP: always throws, naming the bridge. */
export function tcpConnector(server: string, _options?: TcpOptions): Connector {
  throw new TypeError(
    `browsers cannot open TCP (${server}): use the ws:// or wss:// URL of a gearman-bridge`,
  );
}

/** Maps a server address to a connector in a browser: `ws://` and `wss://` only. */
export function browserConnector(server: string, options: ConnectorOptions = {}): Connector {
  // isWebSocketUrl() inlined: as a function it costs the browser bundle ~40 B gzip, which its budget lacks.
  return /^wss?:\/\//.test(server) ? websocketConnector(server, { token: options.token }) : tcpConnector(server);
}
