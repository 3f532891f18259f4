// Node entry: the core with node:net TCP (tcp://, host:port) and `ws` WebSockets (ws://, wss://).
/** gearman-sdk for Node. @module */
import { type AdminClientOptions, BaseAdminClient } from "./core/admin-client.ts";
import { BaseClient } from "./core/client.ts";
import type { ClientOptions, WorkerOptions } from "./core/options.ts";
import { BaseWorker } from "./core/worker.ts";
import { nodeConnector } from "./transports/node-connector.ts";

export * from "./mod.ts";
export { tcpConnector, type TcpOptions } from "./transports/tcp-node.ts";

// Plain subclasses (not a mixin of private constants, which JSR's `deno doc --lint` refuses), each dropped by bundlers when unused.
/** A Gearman client; see {@link BaseClient}. Servers: `host:port`, `tcp://…`, `ws://…`, `wss://…`. */
export class Client extends BaseClient {
  /** A client of `options.servers`; connections open on first use. */
  constructor(options: ClientOptions) { super(options, nodeConnector); }
}

/** A Gearman worker; see {@link BaseWorker}. Servers as for {@link Client}. */
export class Worker extends BaseWorker {
  /** A worker of `options.servers`; `start()` connects it. */
  constructor(options: WorkerOptions) { super(options, nodeConnector); }
}

/** A client of gearmand's admin text protocol; see {@link BaseAdminClient}. */
export class AdminClient extends BaseAdminClient {
  /** An admin client of `options.server`; it connects on the first command. */
  constructor(options: AdminClientOptions) { super(options, nodeConnector); }
}
