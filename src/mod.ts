// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * gearman-sdk core: Client, Worker, AdminClient bases, the codec, the errors and the transport
 * seam, with no transport chosen. Runtime entries (`gearman-sdk` for Node, Deno and browsers)
 * re-export all of this with a default connector.
 * @module
 */
export * from "./errors.ts";
export * from "./protocol/mod.ts";
export type { Connector, ConnectorFactory, ConnectorOptions, Transport, TransportSink } from "./core/transport.ts";
export { BaseClient } from "./core/client.ts";
export type { JobStatus, RequestOptions, SubmitOptions, UniqueJobStatus } from "./core/requests.ts";
export { BaseWorker } from "./core/worker.ts";
export { type AdminCallOptions, BaseAdminClient, type AdminClientOptions } from "./core/admin-client.ts";
export { Task, type Priority, type TaskEvent, type TaskEventOf, type TaskEventType } from "./core/task.ts";
export { Job } from "./core/job.ts";
export {
  type Aggregator, type FunctionOptions, GearmanReturn, type HandlerResult, type JobHandler,
  type PartitionedFunction, type partitionedBrand, type PartitionFunction, type ReturnCode, type returnCodeBrand,
} from "./core/functions.ts";
export { partitioned } from "./core/map-run.ts";
export {
  type ClientOptions, type CommonOptions, DEFAULT_CONCURRENCY, DEFAULT_RECONNECT_BASE, DEFAULT_RECONNECT_CAP,
  DEFAULT_REQUEST_WINDOW, type StopOptions, type WorkerOptions,
} from "./core/options.ts";
export { consoleLogger, type Logger, QueuedIterator } from "./core/events.ts";
export { createMemoryPair, type MemoryPairOptions, type MemoryTransport } from "./transports/memory.ts";
export { VERSION } from "./version.ts";
export { websocketConnector, type WebSocketConstructor, type WebSocketLike, type WebSocketTransportOptions } from "./transports/websocket.ts";
export { parseServerAddress as parseTcpAddress } from "./transports/address.ts";
