// Node only: picks node:net for tcp:// and the `ws` package for ws:// and wss://.
/**
 * The Node entry's connector factory.
 * @module
 */
import type { Connector, ConnectorOptions } from "../core/transport.ts";
import { isWebSocketUrl } from "./address.ts";
import { tcpConnector } from "./tcp-node.ts";

/** Maps a server address to a connector on Node. */
export function nodeConnector(server: string, options: ConnectorOptions = {}): Connector {
  if (!isWebSocketUrl(server)) return tcpConnector(server);
  return async (signal?: AbortSignal) => {
    const [{ websocketConnector }, { WebSocket }] = await Promise.all([import("./websocket.ts"), import("ws")]);
    // Node 20 has no global WebSocket; permessage-deflate costs 90 % of throughput (bridge.md).
    class NoDeflateWebSocket extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols, { perMessageDeflate: false });
      }
    }
    return await websocketConnector(server, { WebSocket: NoDeflateWebSocket, token: options.token })(signal);
  };
}
