// Browser entry: the core with the W3C WebSocket (ws://, wss://) only; browsers reach gearmand through the bridge.
/** gearman-sdk for browsers. @module */
import { type AdminClientOptions, BaseAdminClient } from "./core/admin-client.ts";
import { BaseClient } from "./core/client.ts";
import type { ClientOptions, WorkerOptions } from "./core/options.ts";
import { BaseWorker } from "./core/worker.ts";
import { browserConnector } from "./transports/browser-connector.ts";

export * from "./mod.ts";
export type { TcpOptions } from "./transports/address.ts";
export { tcpConnector } from "./transports/browser-connector.ts";

// Plain subclasses (not a mixin of private constants, which JSR's `deno doc --lint` refuses), each dropped by bundlers when unused.
/** A Gearman client; see {@link BaseClient}. Servers are bridge URLs (`ws://…`, `wss://…`). */
export class Client extends BaseClient {
  /** A client of `options.servers`, opened on first use; a `tcp://` or `host:port` one throws a TypeError naming the bridge. */
  constructor(options: ClientOptions) { super(options, browserConnector); }
}

/** A Gearman worker; see {@link BaseWorker}. Servers as for {@link Client}. */
export class Worker extends BaseWorker {
  /** A worker of `options.servers`, connected by `start()`; a `tcp://` or `host:port` one throws a TypeError naming the bridge. */
  constructor(options: WorkerOptions) { super(options, browserConnector); }
}

/** Admin text protocol: not available in browsers (the bridge never relays admin text). */
export class AdminClient extends BaseAdminClient {
  /** Takes only a `ws://` address, whose bridge then refuses the admin text. */
  constructor(options: AdminClientOptions) { super(options, browserConnector); }
}
