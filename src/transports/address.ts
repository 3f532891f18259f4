// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Server address parsing shared by the TCP transports.
 * @module
 */
import { DEFAULT_PORT } from "../protocol/constants.ts";

/** Splits `host:port`, `tcp://host:port` or `[::1]:port` into host and port (default 4730). */
export function parseServerAddress(server: string): { host: string; port: number } {
  const s = server.startsWith("tcp://") ? server.slice(6) : server;
  const m = /^(?:\[([^\]]+)\]|([^:/]+))(?::(\d+))?\/?$/.exec(s);
  if (!m) throw new TypeError(`cannot read the server address ${JSON.stringify(server)}: use host:port or tcp://host:port`);
  return { host: m[1] ?? m[2]!, port: m[3] ? Number(m[3]) : DEFAULT_PORT };
}
