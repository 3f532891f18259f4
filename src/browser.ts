// Browser entry: the core with the W3C WebSocket (ws://, wss://) only; browsers reach gearmand through the bridge.
/**
 * gearman-sdk for browsers.
 * @module
 */
import { BaseAdminClient, type AdminClientOptions } from "./core/admin-client.ts";
import { BaseClient } from "./core/client.ts";
import type { ClientOptions, WorkerOptions } from "./core/options.ts";
import type { Connector, ConnectorOptions } from "./core/transport.ts";
import { BaseWorker } from "./core/worker.ts";
import { websocketConnector } from "./transports/websocket.ts";

export * from "./mod.ts";

/** Options of `tcpConnector` (same shape as the Node entry). */
export interface TcpOptions {
  /** Milliseconds to wait for the TCP handshake. */
  connectTimeout?: number;
}

/** Browsers cannot open TCP: always throws, naming the bridge. */
export function tcpConnector(server: string, _options?: TcpOptions): Connector {
  throw new TypeError(`browsers cannot open TCP connections (${server}): run gearman-bridge next to gearmand and use its ws:// or wss:// URL`);
}

function browserConnector(server: string, options: ConnectorOptions = {}): Connector {
  return /^wss?:\/\//.test(server) ? websocketConnector(server, { token: options.token }) : tcpConnector(server);
}

/** A Gearman client; see {@link BaseClient}. Servers are bridge URLs (`ws://…`, `wss://…`). */
export class Client extends BaseClient {
  constructor(options: ClientOptions) {
    super(options, browserConnector);
  }
}

/** A Gearman worker; see {@link BaseWorker}. */
export class Worker extends BaseWorker {
  constructor(options: WorkerOptions) {
    super(options, browserConnector);
  }
}

/** Admin text protocol: not available in browsers (the bridge never relays admin text). */
export class AdminClient extends BaseAdminClient {
  constructor(options: AdminClientOptions) {
    super(options, browserConnector);
  }
}
