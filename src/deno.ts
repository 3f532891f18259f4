// Deno entry: the core with Deno.connect TCP (tcp://, host:port) and the global WebSocket (ws://, wss://).
/** gearman-sdk for Deno. @module */
import { type AdminClientOptions, BaseAdminClient } from "./core/admin-client.ts";
import { BaseClient } from "./core/client.ts";
import type { ClientOptions, WorkerOptions } from "./core/options.ts";
import { BaseWorker } from "./core/worker.ts";
import { denoConnector } from "./transports/deno-connector.ts";

export * from "./mod.ts";
export type { TcpOptions } from "./transports/address.ts";
export { denoTcpConnector as tcpConnector } from "./transports/tcp-deno.ts";

// Plain subclasses (not a mixin of private constants, which JSR's `deno doc --lint` refuses), each dropped by bundlers when unused.
/** A Gearman client; see {@link BaseClient}. Servers: `host:port`, `tcp://…` (`Deno.connect`, needs `--allow-net`), `ws://…`, `wss://…`. */
export class Client extends BaseClient {
  /** A client of `options.servers`; connections open on first use. */
  constructor(options: ClientOptions) { super(options, denoConnector); }
}

/** A Gearman worker; see {@link BaseWorker}. Servers as for {@link Client}. */
export class Worker extends BaseWorker {
  /** A worker of `options.servers`; `start()` connects it. */
  constructor(options: WorkerOptions) { super(options, denoConnector); }
}

/** A client of gearmand's admin text protocol; see {@link BaseAdminClient}. TCP only (the bridge relays no admin text). */
export class AdminClient extends BaseAdminClient {
  /** An admin client of `options.server`; it connects on the first command. */
  constructor(options: AdminClientOptions) { super(options, denoConnector); }
}
