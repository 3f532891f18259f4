// Node entry: the core with node:net TCP (tcp://, host:port) and `ws` WebSockets (ws://, wss://).
/**
 * gearman-sdk for Node.
 * @module
 */
import { BaseAdminClient, type AdminClientOptions } from "./core/admin-client.ts";
import { type Bound, withConnector } from "./core/bind.ts";
import { BaseClient } from "./core/client.ts";
import type { ClientOptions, WorkerOptions } from "./core/options.ts";
import { BaseWorker } from "./core/worker.ts";
import { nodeConnector } from "./transports/node-connector.ts";

export * from "./mod.ts";
export { tcpConnector, type TcpOptions } from "./transports/tcp-node.ts";

const ClientBase: Bound<ClientOptions, BaseClient> = /* @__PURE__ */ withConnector(BaseClient, nodeConnector);
/** A Gearman client; see {@link BaseClient}. Servers: `host:port`, `tcp://…`, `ws://…`, `wss://…`. */
export class Client extends ClientBase {}

const WorkerBase: Bound<WorkerOptions, BaseWorker> = /* @__PURE__ */ withConnector(BaseWorker, nodeConnector);
/** A Gearman worker; see {@link BaseWorker}. */
export class Worker extends WorkerBase {}

const AdminClientBase: Bound<AdminClientOptions, BaseAdminClient> = /* @__PURE__ */ withConnector(BaseAdminClient, nodeConnector);
/** A client of gearmand's admin text protocol; see {@link BaseAdminClient}. */
export class AdminClient extends AdminClientBase {}
