// Deno only: picks Deno.connect for tcp:// and the global WebSocket for ws:// and wss://.
/**
 * The Deno entry's connector factory.
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import type { Connector, ConnectorOptions } from "../core/transport.ts";
import { isWebSocketUrl } from "./address.ts";
import { denoTcpConnector } from "./tcp-deno.ts";
import { websocketConnector } from "./websocket.ts";

/**
 * Maps a server address to a connector on Deno: `ws://` and `wss://` to the global WebSocket, anything
 * else to `Deno.connect`.
 * @throws {InvalidArgumentError} for an address neither transport can read.
 */
export function denoConnector(server: string, options: ConnectorOptions = {}): Connector {
  if (!isWebSocketUrl(server)) return denoTcpConnector(server);
  // Deno's WebSocket throws a SyntaxError per attempt for a bad URL: say so once, at construction, as for a tcp address.
  if (!URL.canParse(server)) throw new InvalidArgumentError(`cannot read the bridge URL ${JSON.stringify(server)}`);
  return websocketConnector(server, { token: options.token });
}
