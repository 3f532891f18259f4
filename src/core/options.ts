// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Client and worker options: documented defaults, one validating resolver each, frozen results.
 * The caller's object is never changed.
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import type { ConnectorFactory } from "./transport.ts";
import { consoleLogger, type Logger, quietLogger } from "./events.ts";
import type { Packet } from "../protocol/packet.ts";
import { DEFAULT_MAX_PACKET_SIZE } from "../protocol/constants.ts";

/** Default cap on requests awaiting an answer on one connection. */
export const DEFAULT_REQUEST_WINDOW = 1000;
/** Default first reconnect delay, in ms. */
export const DEFAULT_RECONNECT_BASE = 100;
/** Default longest reconnect delay, in ms. */
export const DEFAULT_RECONNECT_CAP = 5000;
/** Default worker concurrency. */
export const DEFAULT_CONCURRENCY = 1;
/** Default longest wait for NOOP before a sleeping worker grabs again, in ms (libgearman's GEARMAN_WORKER_WAIT_TIMEOUT). */
export const DEFAULT_POLL_INTERVAL = 10_000;
/** Default graceful-stop deadline, in ms. */
export const DEFAULT_STOP_TIMEOUT = 30_000;

/** Options shared by clients and workers. */
export interface CommonOptions {
  /** Servers: `host:port`, `tcp://host:port`, `ws://…` or `wss://…` (what the entry's connector supports). */
  servers: readonly string[];
  /** Maps a server address to a connector. Each runtime entry sets its own default. */
  connector?: ConnectorFactory | undefined;
  /** Where warnings go. @default console for warn and error */
  logger?: Logger | undefined;
  /** Largest packet body (fields, separators and payload) accepted from a server or sent to it, in bytes. @default 64 MiB */
  maxPacketSize?: number | undefined;
  /** First reconnect delay in ms; doubles per failure, with jitter. @default 100 */
  reconnectDelay?: number | undefined;
  /** Longest reconnect delay in ms. @default 5000 */
  maxReconnectDelay?: number | undefined;
  /** Reproduce what libgearman peers expect where the defaults differ (see README). @default false */
  libgearmanCompatible?: boolean | undefined;
  /**
   * Bearer token for `ws://` / `wss://` servers behind a gearman-bridge, sent as the subprotocol `bearer.<token>`
   * (never in the URL): HTTP token characters only, e.g. base64url without padding, else `InvalidArgumentError`.
   */
  token?: string | undefined;
  /**
   * Sees every packet sent and received, with the connection's address (the playground's packet inspector). A tap
   * that throws changes nothing for the connection; its error surfaces as an uncaught exception, as a listener's would.
   */
  tap?: ((direction: "out" | "in", packet: Packet, server: string) => void) | undefined;
}

/** Options of a {@link Client}. */
export interface ClientOptions extends CommonOptions {
  /** Resubmit in-flight foreground tasks that have a unique id when their connection drops. @default false */
  resubmitOnReconnect?: boolean | undefined;
  /** Requests awaiting an answer on one connection before more are held back locally. @default 1000 */
  requestWindow?: number | undefined;
  /** Send OPTION_REQ "exceptions" on every connection so WORK_EXCEPTION arrives as such. @default true */
  exceptions?: boolean | undefined;
}

/** Options of a Worker. */
export interface WorkerOptions extends CommonOptions {
  /** Jobs run at once, over all servers. @default 1 */
  concurrency?: number | undefined;
  /**
   * Sent with SET_CLIENT_ID on every connection; shown by the admin `workers` command (behind a bridge, the
   * principal's id is shown instead). Non-empty, without NUL.
   */
  clientId?: string | undefined;
  /**
   * Longest wait, in ms, for gearmand's NOOP before an idle worker asks for a job again (libgearman
   * waits 10 s). gearmand wakes nobody when an epoch job falls due, and not reliably when it requeues
   * a timed-out job. @default 10000
   */
  pollInterval?: number | undefined;
}

/** Options of a worker's `stop()`. */
export interface StopOptions {
  /** Let running jobs finish (bounded by `timeout`) before closing. @default true */
  graceful?: boolean | undefined;
  /** Deadline for running jobs in ms; after it they are aborted and gearmand requeues them. @default 30000 */
  timeout?: number | undefined;
}

/** Options shared by clients and workers, after defaults and validation. */
export interface ResolvedCommonOptions {
  readonly servers: readonly string[];
  readonly connector: ConnectorFactory;
  readonly logger: Logger;
  readonly maxPacketSize: number;
  readonly reconnectDelay: number;
  readonly maxReconnectDelay: number;
  readonly libgearmanCompatible: boolean;
  readonly tap: CommonOptions["tap"];
}

/** Client options after defaults and validation. */
export interface ResolvedClientOptions extends ResolvedCommonOptions {
  readonly resubmitOnReconnect: boolean;
  readonly requestWindow: number;
  readonly exceptions: boolean;
}

/** Worker options after defaults and validation. */
export interface ResolvedWorkerOptions extends ResolvedCommonOptions {
  readonly concurrency: number;
  readonly clientId: string | undefined;
  readonly pollInterval: number;
}

/**
 * The whole-number options: each of `defaults`' keys read from `o`, where a value must be an integer ≥ 1,
 * or the default when absent. One loop over a table rather than one call per option: every name is
 * written once.
 */
function positiveInts<D extends Record<string, number>>(o: object, defaults: D): D {
  const out: Record<string, number> = {};
  for (const name in defaults) {
    const value = (o as Record<string, number | undefined>)[name];
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
      throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
    }
    out[name] = value ?? defaults[name]!;
  }
  return out as D;
}

function common(o: CommonOptions, fallback: ConnectorFactory | undefined): ResolvedCommonOptions {
  if (!o || !Array.isArray(o.servers) || o.servers.length === 0) {
    throw new InvalidArgumentError('servers must list at least one server, e.g. ["127.0.0.1:4730"]');
  }
  const factory = o.connector ?? fallback;
  if (!factory) {
    throw new InvalidArgumentError("no connector: pass options.connector");
  }
  return {
    servers: Object.freeze([...o.servers]),
    connector: o.token === undefined ? factory : (server: string) => factory(server, { token: o.token }),
    logger: quietLogger(o.logger ?? consoleLogger),
    libgearmanCompatible: o.libgearmanCompatible ?? false,
    tap: o.tap,
    ...positiveInts(o, {
      maxPacketSize: DEFAULT_MAX_PACKET_SIZE,
      reconnectDelay: DEFAULT_RECONNECT_BASE,
      maxReconnectDelay: DEFAULT_RECONNECT_CAP,
    }),
  };
}

/** Applies defaults to client options and validates them. */
export function resolveClientOptions(o: ClientOptions, fallback?: ConnectorFactory): ResolvedClientOptions {
  return Object.freeze({
    ...common(o, fallback),
    resubmitOnReconnect: o.resubmitOnReconnect ?? false,
    exceptions: o.exceptions ?? true,
    ...positiveInts(o, { requestWindow: DEFAULT_REQUEST_WINDOW }),
  });
}

/** Applies defaults to worker options and validates them. */
export function resolveWorkerOptions(o: WorkerOptions, fallback?: ConnectorFactory): ResolvedWorkerOptions {
  if (o.clientId !== undefined && (o.clientId === "" || o.clientId.includes("\0"))) {
    throw new InvalidArgumentError("clientId must be a non-empty string without NUL");
  }
  return Object.freeze({
    ...common(o, fallback),
    clientId: o.clientId,
    ...positiveInts(o, { concurrency: DEFAULT_CONCURRENCY, pollInterval: DEFAULT_POLL_INTERVAL }),
  });
}
