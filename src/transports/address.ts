// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Server addresses, shared by the connectors: parsing and formatting `host:port`, telling a bridge URL
 * apart, and the TCP options type.
 * @module
 */
import { DEFAULT_PORT } from "../protocol/constants.ts";

/**
 * Options of `tcpConnector`, one shape in every entry: Node's honours them, Deno's takes none yet,
 * and the browser's always throws.
 */
export interface TcpOptions {
  /** Milliseconds to wait for the TCP handshake. @default 10000 */
  connectTimeout?: number;
}

/** True for a bridge URL (`ws://`, `wss://`), which every entry hands to the WebSocket transport. */
export function isWebSocketUrl(server: string): boolean {
  return /^wss?:\/\//.test(server);
}

/** `host:port`, with an IPv6 host in brackets: the inverse of {@link parseServerAddress}. */
export function formatServerAddress(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Splits `host:port`, `tcp://host:port` or `[::1]:port` into host and port (default 4730). */
export function parseServerAddress(server: string): { host: string; port: number } {
  const s = server.startsWith("tcp://") ? server.slice(6) : server;
  const m = /^(?:\[([^\]]+)\]|([^:/]+))(?::(\d+))?\/?$/.exec(s);
  if (!m) throw new TypeError(`cannot read the server address ${JSON.stringify(server)}: use host:port or tcp://host:port`);
  return { host: m[1] ?? m[2]!, port: m[3] ? Number(m[3]) : DEFAULT_PORT };
}
