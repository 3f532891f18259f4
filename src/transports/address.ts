// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Server addresses, shared by the connectors: parsing and formatting `host:port`, telling a bridge URL
 * apart, and the TCP options type.
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import { DEFAULT_PORT } from "../protocol/constants.ts";

/**
 * Options of `tcpConnector`, one shape in every entry: Node's and Deno's honour them,
 * and the browser's always throws.
 */
export interface TcpOptions {
  /** Milliseconds to wait for the TCP handshake. @default 10000 */
  connectTimeout?: number | undefined;
}

/** True for a bridge URL (`ws://`, `wss://`), which every entry hands to the WebSocket transport. */
export function isWebSocketUrl(server: string): boolean {
  return /^wss?:\/\//.test(server);
}

/** `host:port`, with an IPv6 host in brackets: the inverse of {@link parseServerAddress}. */
export function formatServerAddress(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * Splits `host:port`, `tcp://host:port` or `[::1]:port` into host and port (default 4730).
 * @throws {InvalidArgumentError} for anything else (a scheme other than `tcp://`, a port that is not 1 to 65535, spaces).
 */
export function parseServerAddress(server: string): { host: string; port: number } {
  const s = server.startsWith("tcp://") ? server.slice(6) : server;
  const m = /^(?:\[([^\]\s/]+)\]|([^:/\s]+))(?::(\d{1,5}))?\/?$/.exec(s);
  const port = m?.[3] ? Number(m[3]) : DEFAULT_PORT;
  if (!m || port < 1 || port > 65535) {
    throw new InvalidArgumentError(`cannot read the server address ${JSON.stringify(server)}: expected host:port, [ipv6]:port or ` +
      "tcp://host:port with a port from 1 to 65535 (or ws:// and wss:// for a bridge)");
  }
  return { host: m[1] ?? m[2]!, port };
}
