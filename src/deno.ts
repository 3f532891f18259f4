// Deno entry: the core with Deno.connect TCP (tcp://, host:port) and the global WebSocket (ws://, wss://).
/**
 * gearman-sdk for Deno.
 * @module
 */
import { BaseAdminClient, type AdminClientOptions } from "./core/admin-client.ts";
import { type Bound, withConnector } from "./core/bind.ts";
import { BaseClient } from "./core/client.ts";
import type { ClientOptions, WorkerOptions } from "./core/options.ts";
import { BaseWorker } from "./core/worker.ts";
import { denoConnector } from "./transports/deno-connector.ts";

export * from "./mod.ts";
export type { TcpOptions } from "./transports/address.ts";
export { denoTcpConnector as tcpConnector } from "./transports/tcp-deno.ts";

const ClientBase: Bound<ClientOptions, BaseClient> = /* @__PURE__ */ withConnector(BaseClient, denoConnector);
/** A Gearman client; see {@link BaseClient}. */
export class Client extends ClientBase {}

const WorkerBase: Bound<WorkerOptions, BaseWorker> = /* @__PURE__ */ withConnector(BaseWorker, denoConnector);
/** A Gearman worker; see {@link BaseWorker}. */
export class Worker extends WorkerBase {}

const AdminClientBase: Bound<AdminClientOptions, BaseAdminClient> = /* @__PURE__ */ withConnector(BaseAdminClient, denoConnector);
/** A client of gearmand's admin text protocol; see {@link BaseAdminClient}. */
export class AdminClient extends AdminClientBase {}
