// Deno only: picks Deno.connect for tcp:// and the global WebSocket for ws:// and wss://.
/**
 * The Deno entry's connector factory.
 * @module
 */
import type { Connector, ConnectorOptions } from "../core/transport.ts";
import { isWebSocketUrl } from "./address.ts";
import { denoTcpConnector } from "./tcp-deno.ts";
import { websocketConnector } from "./websocket.ts";

/** Maps a server address to a connector on Deno. */
export function denoConnector(server: string, options: ConnectorOptions = {}): Connector {
  return isWebSocketUrl(server) ? websocketConnector(server, { token: options.token }) : denoTcpConnector(server);
}
