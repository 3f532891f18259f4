// Browser entry: the core with the W3C WebSocket (ws://, wss://) only; browsers reach gearmand through the bridge.
/**
 * gearman-sdk for browsers.
 * @module
 */
import { BaseAdminClient, type AdminClientOptions } from "./core/admin-client.ts";
import { type Bound, withConnector } from "./core/bind.ts";
import { BaseClient } from "./core/client.ts";
import type { ClientOptions, WorkerOptions } from "./core/options.ts";
import { BaseWorker } from "./core/worker.ts";
import { browserConnector } from "./transports/browser-connector.ts";

export * from "./mod.ts";
export type { TcpOptions } from "./transports/address.ts";
export { tcpConnector } from "./transports/browser-connector.ts";

const ClientBase: Bound<ClientOptions, BaseClient> = /* @__PURE__ */ withConnector(BaseClient, browserConnector);
/** A Gearman client; see {@link BaseClient}. Servers are bridge URLs (`ws://…`, `wss://…`). */
export class Client extends ClientBase {}

const WorkerBase: Bound<WorkerOptions, BaseWorker> = /* @__PURE__ */ withConnector(BaseWorker, browserConnector);
/** A Gearman worker; see {@link BaseWorker}. */
export class Worker extends WorkerBase {}

const AdminClientBase: Bound<AdminClientOptions, BaseAdminClient> = /* @__PURE__ */ withConnector(BaseAdminClient, browserConnector);
/** Admin text protocol: not available in browsers (the bridge never relays admin text). */
export class AdminClient extends AdminClientBase {}
