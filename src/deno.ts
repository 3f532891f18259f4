// Deno entry: the core with Deno.connect TCP (tcp://, host:port) and the global WebSocket (ws://, wss://).
/**
 * gearman-sdk for Deno.
 * @module
 */
import { BaseAdminClient, type AdminClientOptions } from "./core/admin-client.ts";
import { BaseClient } from "./core/client.ts";
import type { ClientOptions, WorkerOptions } from "./core/options.ts";
import type { Connector, ConnectorOptions } from "./core/transport.ts";
import { BaseWorker } from "./core/worker.ts";
import { denoTcpConnector } from "./transports/tcp-deno.ts";
import { websocketConnector } from "./transports/websocket.ts";

export * from "./mod.ts";
export { denoTcpConnector as tcpConnector } from "./transports/tcp-deno.ts";
/** Options of `tcpConnector` (none on Deno yet; the shape matches the Node entry). */
export interface TcpOptions {
  /** Milliseconds to wait for the TCP handshake. */
  connectTimeout?: number;
}

function denoConnector(server: string, options: ConnectorOptions = {}): Connector {
  return /^wss?:\/\//.test(server) ? websocketConnector(server, { token: options.token }) : denoTcpConnector(server);
}

/** A Gearman client; see {@link BaseClient}. */
export class Client extends BaseClient {
  constructor(options: ClientOptions) {
    super(options, denoConnector);
  }
}

/** A Gearman worker; see {@link BaseWorker}. */
export class Worker extends BaseWorker {
  constructor(options: WorkerOptions) {
    super(options, denoConnector);
  }
}

/** A client of gearmand's admin text protocol; see {@link BaseAdminClient}. */
export class AdminClient extends BaseAdminClient {
  constructor(options: AdminClientOptions) {
    super(options, denoConnector);
  }
}
