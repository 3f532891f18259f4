// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * The embedded job server, runtime-agnostic part: attach any transport (TCP, WebSocket, in-memory).
 * @module
 */
export { JobServer, type AttachInfo, type JobServerStats } from "./server.ts";
export {
  DEFAULT_MAX_OUTPUT_BUFFER,
  DEFAULT_SERVER_NAME,
  DEFAULT_SERVER_VERSION,
  type JobServerOptions,
  type ResolvedServerOptions,
  resolveServerOptions,
} from "./options.ts";
