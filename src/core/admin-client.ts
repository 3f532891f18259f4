// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * AdminClient: gearmand's text protocol (status, workers, show jobs, cancel job, maxqueue, …) over
 * any transport, with typed answers. Commands are pipelined and answered in order.
 * @module
 */
import { ClosedError, ConnectionError, InvalidArgumentError } from "../errors.ts";
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
  connector?: ConnectorFactory;
}

interface Pending {
  shape: AdminResponseShape;
  done: Deferred<AdminResponse>;
}

/**
 * Speaks gearmand's admin text protocol.
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
  #transport: Promise<Transport> | undefined;
  #pending: Pending[] = [];
  #reader = new AdminResponseReader();
  #closed = false;

  /** Connects lazily, on the first command; `defaultConnector` is what a runtime entry's `AdminClient` passes. */
  constructor(options: AdminClientOptions, defaultConnector?: ConnectorFactory) {
    const connector = options.connector ?? defaultConnector;
    if (!connector) throw new InvalidArgumentError("AdminClient needs a connector: import it from a runtime entry");
    this.#server = options.server;
    this.#connector = connector;
  }

  /** Sends one command line and returns the raw response lines. */
  async command(line: string): Promise<string[]> {
    const words = line.trim().split(/\s+/);
    return (await this.#send(words)).lines;
  }

  /** `status`: per function, jobs queued+running, running, and workers. */
  async status(): Promise<FunctionStatus[]> {
    return parseStatus(await this.#send(["status"]));
  }

  /** `prioritystatus`: queued jobs per priority. */
  async priorityStatus(): Promise<FunctionPriorityStatus[]> {
    return parsePriorityStatus(await this.#send(["prioritystatus"]));
  }

  /** `workers`: every connection with its client id and functions. */
  async workers(): Promise<WorkerInfo[]> {
    return parseWorkers(await this.#send(["workers"]));
  }

  /** `show jobs`. */
  async showJobs(): Promise<JobInfo[]> {
    return parseJobs(await this.#send(["show", "jobs"]));
  }

  /** `show unique jobs`. */
  async showUniqueJobs(): Promise<string[]> {
    return parseUniqueJobs(await this.#send(["show", "unique", "jobs"]));
  }

  /** `version`, e.g. `1.1.20+ds`. */
  async version(): Promise<string> {
    return parseOk(await this.#send(["version"]));
  }

  /** `getpid`. */
  async getpid(): Promise<number> {
    return Number(parseOk(await this.#send(["getpid"])));
  }

  /** `verbose`: the server's log level, e.g. `INFO`. */
  async verbose(): Promise<string> {
    return parseOk(await this.#send(["verbose"]));
  }

  /** `cancel job H`: fails the job's foreground clients. Throws `AdminCommandError` (UNKNOWN_JOB) if unknown. */
  async cancelJob(handle: string): Promise<void> {
    parseOk(await this.#send(["cancel", "job", handle]));
  }

  /**
   * `maxqueue`: one limit for every priority, or [high, normal, low]; omit to reset to unlimited.
   * Only a function the server already knows is changed (one a worker registered, a job was submitted to, or
   * `createFunction` made): for any other the server still answers OK and nothing happens. The limit is not
   * persisted; apply it again after a server restart.
   */
  async maxQueue(functionName: string, limit?: number | readonly [number, number, number]): Promise<void> {
    const rest = limit === undefined ? [] : typeof limit === "number" ? [String(limit)] : limit.map(String);
    parseOk(await this.#send(["maxqueue", functionName, ...rest]));
  }

  /** `create function NAME`. */
  async createFunction(name: string): Promise<void> {
    parseOk(await this.#send(["create", "function", name]));
  }

  /** `drop function NAME`. */
  async dropFunction(name: string): Promise<void> {
    parseOk(await this.#send(["drop", "function", name]));
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#transport) (await this.#transport.catch(() => undefined))?.close();
  }

  async #send(words: string[]): Promise<AdminResponse> {
    if (this.#closed) throw new ClosedError("the admin client is closed");
    const bytes = adminCommandLine(words) as Uint8Array<ArrayBuffer>;
    const opening = (this.#transport ??= this.#open());
    // A failed connect is not kept: the next command tries again (gearmand may be up by then).
    const transport = await opening.catch((err: unknown) => {
      if (this.#transport === opening) this.#transport = undefined;
      throw err;
    });
    const p: Pending = { shape: adminShape(words.join(" ")), done: deferred() };
    this.#pending.push(p);
    transport.write(bytes);
    return await p.done.promise;
  }

  async #open(): Promise<Transport> {
    const t = await this.#connector(this.#server)();
    t.start({
      data: (chunk) => {
        try {
          for (const res of this.#reader.push(chunk, (i) => this.#pending[i]?.shape)) this.#pending.shift()!.done.resolve(res);
        } catch (err) {
          this.#failAll(err as Error);
          t.close();
        }
      },
      drain: () => {},
      closed: (error) => {
        this.#transport = undefined;
        this.#reader = new AdminResponseReader();
        this.#failAll(error ?? new ConnectionError(`${this.#server} closed the admin connection`, { server: this.#server }));
      },
    });
    return t;
  }

  #failAll(error: Error): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) p.done.reject(error);
  }
}
