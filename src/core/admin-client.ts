// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * AdminClient: gearmand's text protocol (status, workers, show jobs, cancel job, maxqueue, …) over
 * any transport, with typed answers. Commands are pipelined and answered in order.
 * @module
 */
import { AbortError, ClosedError, ConnectionError, InvalidArgumentError, TimeoutError } from "../errors.ts";
import {
  type AdminResponse, AdminResponseReader, type AdminResponseShape, adminCommandLine, adminShape,
  type FunctionPriorityStatus, type FunctionStatus, type JobInfo, parseJobs, parseOk, parsePriorityStatus,
  parseStatus, parseUniqueJobs, parseWorkers, type WorkerInfo,
} from "../protocol/admin.ts";
import type { ConnectorFactory, Transport } from "./transport.ts";
import { deferred, type Deferred } from "./events.ts";

/** Options of an {@link BaseAdminClient}. */
export interface AdminClientOptions {
  /** The server: `host:port` or `tcp://host:port`. */
  server: string;
  /** Maps the address to a connector; runtime entries set it. */
  connector?: ConnectorFactory | undefined;
  /**
   * Longest wait for each command's answer, connecting included, in ms; then the command rejects with
   * `TimeoutError` (its late answer is read and dropped). Overridden per call. @default no limit
   */
  timeout?: number | undefined;
}

/** Per-call options of an {@link BaseAdminClient} command. */
export interface AdminCallOptions {
  /** Longest wait for the answer in ms, then `TimeoutError`. @default the client's `timeout` */
  timeout?: number | undefined;
  /** Aborting rejects the command with `AbortError` (its late answer is read and dropped). */
  signal?: AbortSignal | undefined;
}

interface Pending {
  shape: AdminResponseShape;
  done: Deferred<AdminResponse>;
  /** Rejected already (timeout, abort, close): its answer, if any, is dropped. */
  gone: boolean;
}

/** One connection: its transport and the commands it owes answers to, in order. */
interface Conn {
  t: Transport;
  pending: Pending[];
  reader: AdminResponseReader;
}

function checkTimeout(timeout: number | undefined): void {
  if (timeout !== undefined && !(timeout > 0)) throw new InvalidArgumentError(`timeout must be > 0 ms, not ${timeout}`);
}

/**
 * Speaks gearmand's admin text protocol over one connection, opened on the first command; commands are pipelined
 * and answered in order. A command rejects with `AdminCommandError` (a `ProtocolError` with `adminCode`) when the
 * server answers `ERR`, `InvalidArgumentError` for an argument that is empty or holds whitespace or NUL (or a
 * server address the connector cannot read), `TimeoutError` / `AbortError` from its {@link AdminCallOptions},
 * `ConnectionError` when the connection fails (the next command opens a new one), and `ClosedError` after `close()`.
 * @example
 * ```ts
 * const admin = new AdminClient({ server: "127.0.0.1:4730" });
 * console.log(await admin.status());
 * await admin.close();
 * ```
 */
export class BaseAdminClient {
  readonly #server: string;
  readonly #connector: ConnectorFactory;
  readonly #timeout: number | undefined;
  #conn: Promise<Conn> | undefined;
  #closed = false;

  /**
   * Connects lazily, on the first command; `defaultConnector` is what a runtime entry's `AdminClient` passes.
   * @throws {InvalidArgumentError} without a connector, or for a `timeout` that is not a number > 0.
   */
  constructor(options: AdminClientOptions, defaultConnector?: ConnectorFactory) {
    const connector = options.connector ?? defaultConnector;
    if (!connector) throw new InvalidArgumentError("AdminClient needs a connector: import it from a runtime entry");
    checkTimeout(options.timeout);
    this.#server = options.server;
    this.#connector = connector;
    this.#timeout = options.timeout;
  }

  /**
   * Sends one command line (words separated by whitespace) and returns the raw response lines (a list's rows without
   * its closing `.`). An `ERR` answer is returned as its line, not thrown.
   */
  async command(line: string, options?: AdminCallOptions): Promise<string[]> {
    const words = line.trim().split(/\s+/);
    return (await this.#send(words, options)).lines;
  }

  /** `status`: per function, jobs queued+running, running, and workers. */
  async status(options?: AdminCallOptions): Promise<FunctionStatus[]> {
    return parseStatus(await this.#send(["status"], options));
  }

  /** `prioritystatus`: queued jobs per priority. */
  async priorityStatus(options?: AdminCallOptions): Promise<FunctionPriorityStatus[]> {
    return parsePriorityStatus(await this.#send(["prioritystatus"], options));
  }

  /** `workers`: every connection with its client id and functions. */
  async workers(options?: AdminCallOptions): Promise<WorkerInfo[]> {
    return parseWorkers(await this.#send(["workers"], options));
  }

  /** `show jobs`. */
  async showJobs(options?: AdminCallOptions): Promise<JobInfo[]> {
    return parseJobs(await this.#send(["show", "jobs"], options));
  }

  /** `show unique jobs`. */
  async showUniqueJobs(options?: AdminCallOptions): Promise<string[]> {
    return parseUniqueJobs(await this.#send(["show", "unique", "jobs"], options));
  }

  /** `version`, e.g. `1.1.20+ds`. */
  async version(options?: AdminCallOptions): Promise<string> {
    return parseOk(await this.#send(["version"], options));
  }

  /** `getpid`. */
  async getpid(options?: AdminCallOptions): Promise<number> {
    return Number(parseOk(await this.#send(["getpid"], options)));
  }

  /** `verbose`: the server's log level, e.g. `INFO`. */
  async verbose(options?: AdminCallOptions): Promise<string> {
    return parseOk(await this.#send(["verbose"], options));
  }

  /** `cancel job H`: fails the job's foreground clients. Throws `AdminCommandError` (UNKNOWN_JOB) if unknown. */
  async cancelJob(handle: string, options?: AdminCallOptions): Promise<void> {
    parseOk(await this.#send(["cancel", "job", handle], options));
  }

  /**
   * `maxqueue`: one limit for every priority, or [high, normal, low]; omit to reset to unlimited. A limit is an
   * integer from 0 (unlimited) to 2147483647.
   * Only a function the server already knows is changed (one a worker registered, a job was submitted to, or
   * `createFunction` made): for any other the server still answers OK and nothing happens. The limit is not
   * persisted; apply it again after a server restart.
   */
  async maxQueue(functionName: string, limit?: number | readonly [number, number, number], options?: AdminCallOptions): Promise<void> {
    const sizes = limit === undefined ? [] : typeof limit === "number" ? [limit] : [...limit];
    // gearmand reads each size with atoi into an int ("1e+21" is 1) and drops the connection for more than three.
    if ((typeof limit === "object" && sizes.length !== 3) || !sizes.every((n) => Number.isInteger(n) && n >= 0 && n <= 0x7fffffff)) {
      throw new InvalidArgumentError(`maxqueue limit must be an integer 0..2147483647 or three of them, not ${JSON.stringify(limit)}`);
    }
    parseOk(await this.#send(["maxqueue", functionName, ...sizes.map(String)], options));
  }

  /** `create function NAME`. */
  async createFunction(name: string, options?: AdminCallOptions): Promise<void> {
    parseOk(await this.#send(["create", "function", name], options));
  }

  /** `drop function NAME`. */
  async dropFunction(name: string, options?: AdminCallOptions): Promise<void> {
    parseOk(await this.#send(["drop", "function", name], options));
  }

  /** Closes the connection. Commands still waiting for their answer reject with `ClosedError`. */
  async close(): Promise<void> {
    this.#closed = true;
    const opening = this.#conn;
    this.#conn = undefined;
    const conn = await opening?.catch(() => undefined);
    if (conn) {
      this.#fail(conn, new ClosedError("the admin client was closed before the server answered"));
      conn.t.close();
    }
  }

  async #send(words: string[], options: AdminCallOptions = {}): Promise<AdminResponse> {
    if (this.#closed) throw new ClosedError("the admin client is closed");
    const bytes = adminCommandLine(words) as Uint8Array<ArrayBuffer>;
    const timeout = options.timeout ?? this.#timeout;
    checkTimeout(timeout);
    const { signal } = options;
    if (signal?.aborted) throw new AbortError(`admin command ${words[0]} aborted`, { cause: signal.reason });
    const p: Pending = { shape: adminShape(words.join(" ")), done: deferred(), gone: false };
    const give = (err: Error): void => {
      p.gone = true;
      p.done.reject(err);
    };
    const onAbort = (): void => give(new AbortError(`admin command ${words[0]} aborted`, { cause: signal?.reason }));
    // setTimeout fires at once for delays over 2^31-1 ms; such a deadline is as good as none.
    const timer = timeout === undefined || timeout > 0x7fffffff ? undefined : setTimeout(() => {
      give(new TimeoutError(`no answer to admin command ${words[0]} from ${this.#server} within ${timeout} ms`));
    }, timeout);
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#enqueue(p, bytes).catch(give);
    try {
      return await p.done.promise;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Connects if needed, then writes the command, unless it was given up on meanwhile. */
  async #enqueue(p: Pending, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
    const opening = (this.#conn ??= this.#open());
    // A failed connect is not kept: the next command tries again (gearmand may be up by then).
    const conn = await opening.catch((err: unknown) => {
      if (this.#conn === opening) this.#conn = undefined;
      throw err;
    });
    if (this.#closed) throw new ClosedError("the admin client was closed before the command was sent");
    if (p.gone) return;
    // The connection was lost while this command waited for it: use a new one.
    if (this.#conn !== opening) return await this.#enqueue(p, bytes);
    conn.pending.push(p);
    conn.t.write(bytes);
  }

  async #open(): Promise<Conn> {
    const t = await this.#connector(this.#server)();
    const conn: Conn = { t, pending: [], reader: new AdminResponseReader() };
    const current = this.#conn;
    const drop = (err: Error): void => {
      // Later commands go to a new connection; this one's pending commands fail.
      if (this.#conn === current) this.#conn = undefined;
      this.#fail(conn, err);
    };
    t.start({
      data: (chunk) => {
        try {
          for (const res of conn.reader.push(chunk, (i) => conn.pending[i]?.shape)) conn.pending.shift()!.done.resolve(res);
        } catch (err) {
          drop(err as Error);
          t.close();
        }
      },
      drain: () => {},
      closed: (error) => {
        drop(error ?? new ConnectionError(`${this.#server} closed the admin connection`, { server: this.#server }));
      },
    });
    return conn;
  }

  #fail(conn: Conn, error: Error): void {
    const pending = conn.pending;
    conn.pending = [];
    for (const p of pending) {
      p.gone = true;
      p.done.reject(error);
    }
  }
}
