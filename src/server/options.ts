// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Options of the embedded job server, their defaults, and the one validating resolver.
 * @module
 */
import { DEFAULT_MAX_PACKET_SIZE } from "../protocol/constants.ts";

/** Options of {@link JobServer}. Every field is optional; counts are whole numbers ≥ 0 (sizes ≥ 1). */
export interface JobServerOptions {
  /**
   * Middle part of job handles, `H:<name>:<n>` (gearmand uses the host name): 1 to 40 printable ASCII characters
   * without spaces. @default "gearman-sdk" (`startServer`: the host name)
   */
  name?: string | undefined;
  /**
   * How many times a job may be handed to a worker; once a job has been requeued this many times
   * (worker lost, CANT_DO, timeout) its listeners get WORK_FAIL and it is dropped. 0 = unlimited,
   * as gearmand's `--job-retries`. @default 0
   */
  jobRetries?: number | undefined;
  /** Queue size limit (queued + running jobs) given to every new function; 0 = unlimited. Admin `maxqueue` changes it per function. @default 0 */
  maxQueue?: number | undefined;
  /** Largest packet body accepted; a larger header closes the connection before anything is buffered. @default 64 MiB */
  maxPacketSize?: number | undefined;
  /**
   * Bytes the server keeps for a connection whose transport is congested (write() returned false).
   * Past this the peer is not reading its replies and is disconnected, so it cannot grow the server.
   * @default 64 MiB
   */
  maxOutputBuffer?: number | undefined;
  /** Turn on the `exceptions` option for every new connection, as gearmand's `--exceptions`. @default false */
  exceptions?: boolean | undefined;
  /** How many sleeping workers one new job wakes; 0 = all, as gearmand's `--worker-wakeup`. @default 0 */
  workerWakeup?: number | undefined;
  /** Answer of the admin `version` command. @default "1.1.20+gearman-sdk" */
  version?: string | undefined;
  /** Answer of the admin `getpid` command (the Node entry passes `process.pid`). @default 0 */
  pid?: number | undefined;
  /** Answer of the admin `verbose` command. @default "INFO" */
  verbose?: string | undefined;
  /**
   * Called with an unexpected exception thrown while handling a connection's packets (a bug); that
   * connection is closed and the server carries on. @default rethrows it from a timer, so it is not lost
   */
  onError?: ((error: unknown) => void) | undefined;
}

/** Default middle part of job handles. */
export const DEFAULT_SERVER_NAME = "gearman-sdk";
/** Default answer of admin `version`: the gearmand release whose behaviour this server follows. */
export const DEFAULT_SERVER_VERSION = "1.1.20+gearman-sdk";
/** Default cap on what is kept for a congested connection. */
export const DEFAULT_MAX_OUTPUT_BUFFER: number = 64 * 1024 * 1024;

/** Options with every default filled in. */
export type ResolvedServerOptions = { readonly [K in keyof JobServerOptions]-?: Exclude<JobServerOptions[K], undefined> };

function count(options: JobServerOptions, key: keyof JobServerOptions, fallback: number, min: number): number {
  const v = options[key] ?? fallback;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new TypeError(`JobServer option "${key}" must be an integer of at least ${min}, got ${String(v)}`);
  }
  return v;
}

/**
 * Fills in defaults and validates; never mutates the argument.
 * @throws {TypeError} naming the option, for a count that is not a whole number in range, a bad `name`, or a
 * `version` / `verbose` with a line break.
 * @example
 * ```ts
 * const opts = resolveServerOptions({ jobRetries: 3 });
 * ```
 */
export function resolveServerOptions(options: JobServerOptions = {}): ResolvedServerOptions {
  const name = options.name ?? DEFAULT_SERVER_NAME;
  // The handle must be one NUL-free field of at most 63 bytes, with room left for the counter.
  if (!/^[\x21-\x7e]{1,40}$/.test(name)) {
    throw new TypeError(`JobServer option "name" must be 1 to 40 printable ASCII characters without spaces, got ${JSON.stringify(name)}`);
  }
  const version = options.version ?? DEFAULT_SERVER_VERSION;
  const verbose = options.verbose ?? "INFO";
  for (const [key, v] of [["version", version], ["verbose", verbose]] as const) {
    if (/[\r\n]/.test(v)) throw new TypeError(`JobServer option "${key}" may not contain line breaks`);
  }
  return Object.freeze({
    name,
    jobRetries: count(options, "jobRetries", 0, 0),
    maxQueue: count(options, "maxQueue", 0, 0),
    maxPacketSize: count(options, "maxPacketSize", DEFAULT_MAX_PACKET_SIZE, 1),
    maxOutputBuffer: count(options, "maxOutputBuffer", DEFAULT_MAX_OUTPUT_BUFFER, 1),
    exceptions: options.exceptions ?? false,
    workerWakeup: count(options, "workerWakeup", 0, 0),
    version,
    pid: count(options, "pid", 0, 0),
    verbose,
    onError: options.onError ?? rethrowLater,
  });
}

function rethrowLater(error: unknown): void {
  setTimeout(() => {
    throw error;
  }, 0);
}
