// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Client: submits jobs at every priority, foreground and background, map/reduce, status queries
 * and echo, spread over several servers with reconnect and back-off.
 * @module
 */
import { AbortError, ClosedError, ConnectionError, type GearmanError, InvalidArgumentError, ServerError, TimeoutError } from "../errors.ts";
import { type Payload, toBytes } from "../protocol/bytes.ts";
import { argText, type Packet } from "../protocol/packet.ts";
import * as PacketType from "../protocol/packet-numbers.ts";
import { packetTypeName } from "../protocol/packet-types.ts";
import { assertFunctionName, assertReducer, assertUnique } from "../protocol/validate.ts";
import { ClientConnection } from "./client-connection.ts";
import { connectionLost } from "./connection.ts";
import { backoffDelay, deferred } from "./events.ts";
import { type ClientOptions, type ResolvedClientOptions, resolveClientOptions } from "./options.ts";
import type { JobStatus, RequestOptions, SubmitOptions, UniqueJobStatus } from "./requests.ts";
import { type Priority, Task } from "./task.ts";
import type { ConnectorFactory, Connector } from "./transport.ts";
import { randomUuid } from "./uuid.ts";

interface Slot {
  readonly server: string;
  readonly connect: Connector;
  conn?: ClientConnection | undefined;
  connecting?: Promise<ClientConnection> | undefined;
  failures: number;
  retryAt: number;
  /** Aborted by close(): a connect still out ends at once, not at its timeout. One per server, so that a signal has few listeners. */
  readonly abort: AbortController;
}

const FOREGROUND: Record<Priority, number> = { high: PacketType.SUBMIT_JOB_HIGH, normal: PacketType.SUBMIT_JOB, low: PacketType.SUBMIT_JOB_LOW };
const BACKGROUND: Record<Priority, number> = { high: PacketType.SUBMIT_JOB_HIGH_BG, normal: PacketType.SUBMIT_JOB_BG, low: PacketType.SUBMIT_JOB_LOW_BG };
const HANDLE_MEMORY = 10_000;
/** The fields STATUS_RES and STATUS_RES_UNIQUE share, in the same places. */
const statusOf = (p: Packet): Omit<JobStatus, "handle"> =>
  ({ known: argText(p, 1) === "1", running: argText(p, 2) === "1", numerator: Number(argText(p, 3)), denominator: Number(argText(p, 4)) });
const RESUBMIT_ATTEMPTS = 10;

/**
 * Submits jobs to gearmand, over one connection per server, opened on first use. Every method throws or rejects
 * with a {@link GearmanError} subclass: `InvalidArgumentError` before anything is sent, `ConnectionError` when no
 * server can be reached or the job's connection is lost, `ClosedError` after {@link BaseClient.close}, `TimeoutError`
 * / `AbortError` from {@link RequestOptions}, `ServerError` when the server answers ERROR (e.g. `QUEUE_ERROR`), and
 * `JobFailedError` / `JobExceptionError` for the job's own failure.
 * @example
 * ```ts
 * const client = new Client({ servers: ["127.0.0.1:4730"] });
 * const bytes = await client.execute("reverse", "hello");
 * await client.close();
 * ```
 */
export class BaseClient {
  readonly #options: ResolvedClientOptions;
  readonly #slots: Slot[];
  #rr = 0;
  #closed = false;
  /** Which server created a job (background, or any with several servers), for `getStatus`: the latest handles, in two generations of at most HANDLE_MEMORY. */
  #handleServer = new Map<string, Slot>();
  #olderHandles = new Map<string, Slot>();
  /** Tasks waiting out a back-off before they are submitted again (resubmitOnReconnect). */
  #resubmits = new Map<Task, ReturnType<typeof setTimeout>>();

  /**
   * Creates a client; connections open on first use.
   * @throws {InvalidArgumentError} for bad options, no servers, or an address the connector cannot read.
   */
  constructor(options: ClientOptions, defaultConnector?: ConnectorFactory) {
    this.#options = resolveClientOptions(options, defaultConnector);
    this.#slots = this.#options.servers.map((server) => ({
      server,
      connect: this.#options.connector(server),
      failures: 0,
      retryAt: 0,
      abort: new AbortController(),
    }));
  }

  /**
   * Submits a foreground job and returns its {@link Task}, whose `result()` settles with the outcome.
   * @throws {InvalidArgumentError} on a bad function name or unique, a payload that is not a string or `Uint8Array`, an
   * unknown priority or a bad `timeout`. A packet body over `maxPacketSize` rejects the task with it, sending nothing;
   * after `close()` the task rejects with `ClosedError`.
   */
  submit(functionName: string, payload: Payload, options: SubmitOptions = {}): Task {
    return this.#start(functionName, payload, options, FOREGROUND[options.priority ?? "normal"], options.collect ?? true);
  }

  /**
   * Runs a job and resolves as `gearman_client_do` does: all WORK_DATA payloads then the WORK_COMPLETE payload.
   * Rejects with `JobFailedError` / `JobExceptionError` when the job fails, and as described on the class otherwise.
   */
  async execute(functionName: string, payload: Payload, options: SubmitOptions = {}): Promise<Uint8Array> {
    return await this.#start(functionName, payload, options, FOREGROUND[options.priority ?? "normal"], true).output();
  }

  /**
   * Submits a background job; resolves with its handle once the server queued it. Without a `unique` it gets a
   * random one (see {@link SubmitOptions.unique}). Rejects with `ServerError` when the server refuses it (e.g. `QUEUE_ERROR`).
   */
  async submitBackground(functionName: string, payload: Payload, options: SubmitOptions = {}): Promise<string> {
    return await this.#start(functionName, payload, options, BACKGROUND[options.priority ?? "normal"], false, true).created();
  }

  /**
   * Submits a background job that is not handed out before `when` (SUBMIT_JOB_EPOCH, whole seconds); resolves with its handle.
   * @throws {InvalidArgumentError} for an invalid Date, and as {@link BaseClient.submit}.
   */
  async submitAt(functionName: string, payload: Payload, when: Date, options: Omit<SubmitOptions, "priority"> = {}): Promise<string> {
    const epoch = String(Math.floor(when.getTime() / 1000));
    if (epoch === "NaN") throw new InvalidArgumentError("submitAt needs a valid Date");
    return await this.#start(functionName, payload, options, PacketType.SUBMIT_JOB_EPOCH, false, true, [epoch]).created();
  }

  /**
   * Submits a map/reduce job: `functionName` partitions the payload and `reducer` runs on each part.
   * @throws {InvalidArgumentError} for a reducer name that is empty, holds NUL or is over 64 bytes, and as {@link BaseClient.submit}.
   */
  submitReduce(functionName: string, reducer: string, payload: Payload, options: Omit<SubmitOptions, "priority"> = {}): Task {
    assertReducer(reducer);
    return this.#start(functionName, payload, options, PacketType.SUBMIT_REDUCE_JOB, options.collect ?? true, false, [reducer, ""]);
  }

  /** Runs a map/reduce job and resolves with the aggregated result; rejects as {@link BaseClient.execute}. */
  async executeReduce(functionName: string, reducer: string, payload: Payload, options: Omit<SubmitOptions, "priority"> = {}): Promise<Uint8Array> {
    assertReducer(reducer);
    return await this.#start(functionName, payload, options, PacketType.SUBMIT_REDUCE_JOB, true, false, [reducer, ""]).output();
  }

  /** Submits a background map/reduce job; resolves with its handle. */
  async submitReduceBackground(functionName: string, reducer: string, payload: Payload, options: Omit<SubmitOptions, "priority"> = {}): Promise<string> {
    assertReducer(reducer);
    return await this.#start(functionName, payload, options, PacketType.SUBMIT_REDUCE_JOB_BACKGROUND, false, true, [reducer, ""]).created();
  }

  /**
   * Asks the server that created `handle` for the job's status; a handle this client did not get (or got from a
   * connection since lost) is asked of any reachable server. An unknown job resolves with `known: false`.
   */
  async getStatus(handle: string, options?: RequestOptions): Promise<JobStatus> {
    const p = await this.#ask(PacketType.GET_STATUS, handle, PacketType.STATUS_RES, options, this.#handleServer.get(handle) ?? this.#olderHandles.get(handle));
    return { handle: argText(p, 0), ...statusOf(p) };
  }

  /**
   * Asks for the status of the job with this unique id (any function), on the server such submits go to.
   * @throws {InvalidArgumentError} for a unique over 63 bytes or with NUL.
   */
  async getStatusUnique(unique: string, options?: RequestOptions): Promise<UniqueJobStatus> {
    assertUnique(unique);
    const p = await this.#ask(PacketType.GET_STATUS_UNIQUE, unique, PacketType.STATUS_RES_UNIQUE, options, this.#home(unique));
    return { unique: argText(p, 0), ...statusOf(p), waiting: Number(argText(p, 5)) };
  }

  /** Sends ECHO_REQ and resolves with the echoed bytes. */
  async echo(payload: Payload, options?: RequestOptions): Promise<Uint8Array> {
    return (await this.#ask(PacketType.ECHO_REQ, toBytes(payload), PacketType.ECHO_RES, options)).args[0]!;
  }

  /**
   * Sets a connection option on every open connection (connecting one first if none is); `exceptions` is already
   * sent by default. Rejects with `ServerError` when a server refuses it.
   */
  async setOption(option: "exceptions"): Promise<void> {
    await this.#acquire();
    await Promise.all(this.#slots.filter((s) => s.conn).map((s) => this.#ask(PacketType.OPTION_REQ, option, PacketType.OPTION_RES, {}, s)));
  }

  /**
   * Closes every connection. Tasks still running reject with `ClosedError`, except one whose result the server had
   * already sent: the connection half-closes, so replies on their way are still read and delivered.
   */
  async close(): Promise<void> {
    this.#closed = true;
    for (const [task, timer] of this.#resubmits) {
      clearTimeout(timer);
      task.error_(new ClosedError());
    }
    for (const s of this.#slots) s.abort.abort(), s.conn?.close();
    await Promise.allSettled(this.#slots.map((s) => s.connecting));
  }

  /** `fields` go between the unique and the payload: the reducer and aggregate, or the epoch. */
  #start(fn: string, payload: Payload, o: SubmitOptions, type: number | undefined, collect: boolean, background = false, fields?: string[]): Task {
    assertFunctionName(fn);
    if (type === undefined) throw new InvalidArgumentError(`priority must be high, normal or low, not ${String(o.priority)}`);
    let unique = o.unique ?? "";
    // gearmand's persistent queues (libsqlite3, …) key rows on (unique, function): background jobs without a
    // unique overwrite each other there, and all but the last are lost in a crash. So each gets its own, 23
    // characters (74 random bits) to leave room for a bridge's `<principal>:` prefix within 63 bytes.
    if (unique === "" && (this.#options.libgearmanCompatible || background)) unique = randomUuid().slice(0, this.#options.libgearmanCompatible ? 36 : 23);
    assertUnique(unique);
    const data = toBytes(payload);
    const args = fields ? [fn, unique, ...fields, data] : [fn, unique, data];
    const task = new Task({ functionName: fn, unique, collect, packetType: type, args, background });
    if (this.#closed) {
      task.error_(new ClosedError());
      return task;
    }
    // A background task ends when the server queued it: its result() never settles.
    // An aborted signal ended the task already: nothing is sent.
    // Without a timeout or signal nothing is armed: no closure or promise per submit.
    if ((o.timeout === undefined && !o.signal) || arm(o, `task for ${fn}`, (e) => task.error_(e), background ? task.created() : task.result())) this.#dispatch(task);
    return task;
  }

  #dispatch(task: Task): void {
    // A server that was lost is tried again once its back-off is over, so that the load spreads again.
    for (const s of this.#slots) if (!s.conn && !s.connecting && s.retryAt <= Date.now()) this.#connect(s).catch(() => {});
    const home = this.#home(task.unique);
    const conn = home ? home.conn : this.#pick();
    if (conn && !conn.closed) conn.submit(task);
    else {
      this.#acquire(home).then(
        (c) => {
          if (!task.done) c.submit(task);
        },
        (e: GearmanError) => this.#retryOrFail(task, e),
      );
    }
  }

  /** Called when a task's connection failed before or after JOB_CREATED. */
  #retryOrFail(task: Task, error: GearmanError): void {
    if (task.done) return;
    const resubmit = this.#options.resubmitOnReconnect && task.unique !== "" && !task.spec.background &&
      error instanceof ConnectionError && !this.#closed && task.attempt < RESUBMIT_ATTEMPTS;
    if (!resubmit) {
      task.error_(this.#closed ? new ClosedError() : error);
      return;
    }
    this.#options.logger.debug?.(`resubmitting ${task.functionName} (${task.unique}) after: ${error.message}`);
    this.#resubmits.set(task, setTimeout(() => {
      this.#resubmits.delete(task);
      if (!task.done) this.#dispatch(task);
    }, backoffDelay(task.attempt++, this.#options.reconnectDelay, this.#options.maxReconnectDelay)));
  }

  #remember(handle: string, slot: Slot): void {
    this.#handleServer.set(handle, slot);
    // Whole generations are dropped: evicting the oldest key one by one costs a scan over the deleted
    // entries of a Map each time, which made 50,000 background submits spend a sixth of their time here.
    if (this.#handleServer.size >= HANDLE_MEMORY) {
      this.#olderHandles = this.#handleServer;
      this.#handleServer = new Map();
    }
  }

  /**
   * The server for a unique id when there are several: gearmand coalesces submits with the same unique only within
   * one server, and knows a unique's status only there. Rendezvous hashing of unique and address: clients that list
   * the servers in another order agree, and a server added or removed moves only its own share.
   */
  #home(unique: string): Slot | undefined {
    if (this.#slots.length === 1 || unique === "") return undefined;
    let best: Slot | undefined;
    let top = -1;
    for (const s of this.#slots) {
      let h = 0;
      for (const c of `${s.server}\0${unique}`) h = Math.imul(h ^ c.charCodeAt(0), 0x9e3779b1) >>> 0;
      if (h > top) [best, top] = [s, h];
    }
    return best;
  }

  /** A live connection, round-robin, without waiting. */
  #pick(): ClientConnection | undefined {
    for (const _ of this.#slots) {
      const conn = this.#slots[this.#rr++ % this.#slots.length]!.conn;
      if (conn && !conn.closed) return conn;
    }
    return undefined;
  }

  /** A live connection, connecting where needed; skips servers in back-off unless all are. */
  async #acquire(preferred?: Slot): Promise<ClientConnection> {
    if (this.#closed) throw new ClosedError();
    if (preferred?.conn && !preferred.conn.closed) return preferred.conn;
    if (preferred && (preferred.connecting || preferred.retryAt <= Date.now())) {
      try {
        return await this.#connect(preferred);
      } catch {
        // Any other server will do.
      }
    }
    const live = this.#pick();
    if (live) return live;
    const now = Date.now();
    let candidates = this.#slots.filter((s) => s.connecting || s.retryAt <= now);
    if (candidates.length === 0) candidates = [this.#slots.reduce((a, b) => (a.retryAt <= b.retryAt ? a : b))];
    try {
      return await Promise.any(candidates.map((s) => this.#connect(s)));
    } catch (err) {
      const causes = (err as AggregateError).errors ?? [err];
      const detail = causes.map((e: Error) => e.message).join("; ");
      throw new ConnectionError(`cannot reach any gearmand (${this.#slots.map((s) => s.server).join(", ")}): ${detail}`, { cause: err });
    }
  }

  #connect(slot: Slot): Promise<ClientConnection> {
    if (slot.connecting) return slot.connecting;
    const attempt = (async () => {
      try {
        const transport = await slot.connect(slot.abort.signal);
        if (this.#closed) {
          transport.close();
          throw new ClosedError();
        }
        const conn = new ClientConnection(slot.server, transport, {
          closed: (c, error, orphans) => this.#onClosed(slot, c, error, orphans),
          created: (_c, task, handle) => {
            if (task.spec.background || this.#slots.length > 1) this.#remember(handle, slot);
          },
          submitFailed: (_c, task, error) => this.#retryOrFail(task, error),
        }, {
          logger: this.#options.logger,
          window: this.#options.requestWindow,
          maxPacketSize: this.#options.maxPacketSize,
          tap: this.#options.tap,
        });
        slot.conn = conn;
        slot.failures = 0;
        if (this.#options.exceptions) {
          // Only the server's ERROR is a refusal; a connection lost meanwhile is reported by the tasks on it.
          conn.request(PacketType.OPTION_REQ, ["exceptions"], PacketType.OPTION_RES, () => {}, (e) =>
            e instanceof ServerError && this.#options.logger.warn?.(`${slot.server} refused the exceptions option: ${e.message}`));
        }
        return conn;
      } catch (err) {
        this.#backOff(slot);
        throw err;
      } finally {
        slot.connecting = undefined;
      }
    })();
    slot.connecting = attempt;
    return attempt;
  }

  #backOff(slot: Slot): void {
    slot.retryAt = Date.now() + backoffDelay(slot.failures++, this.#options.reconnectDelay, this.#options.maxReconnectDelay);
  }

  #onClosed(slot: Slot, conn: ClientConnection, error: GearmanError | undefined, orphans: Task[]): void {
    if (slot.conn === conn) slot.conn = undefined;
    if (!this.#closed) this.#backOff(slot);
    for (const handles of [this.#handleServer, this.#olderHandles]) for (const [h, s] of handles) if (s === slot) handles.delete(h);
    const err = this.#closed || !error ? new ClosedError() : connectionLost(error, slot.server);
    for (const task of orphans) {
      // The job was created and then its connection was lost: a fresh round of attempts.
      task.attempt = 0;
      this.#retryOrFail(task, err);
    }
  }

  /** A request with one reply; a late reply after a timeout or abort is read and dropped, so the next ones stay in order. */
  #ask(type: number, arg: string | Uint8Array, expect: number, o: RequestOptions = {}, slot?: Slot): Promise<Packet> {
    const reply = deferred<Packet>();
    // close() may have come while a connection was being picked (an aborted connect rejects too).
    if (arm(o, packetTypeName(type), reply.reject, reply.promise)) {
      this.#acquire(slot).then((conn) => (this.#closed ? reply.reject(new ClosedError()) : conn.request(type, [arg], expect, reply.resolve, reply.reject)),
        (e) => reply.reject(this.#closed ? new ClosedError() : e));
    }
    return reply.promise;
  }
}

/**
 * Arms `o.timeout` and `o.signal` to `fail` the request named `what` until `until` settles. False when the
 * signal had already aborted: the request failed at once, and nothing is to be sent.
 */
function arm(o: RequestOptions, what: string, fail: (e: GearmanError) => void, until: Promise<unknown>): boolean {
  const { timeout, signal } = o;
  if (timeout !== undefined && !(timeout > 0)) throw new InvalidArgumentError(`timeout must be > 0 ms, not ${timeout}`);
  const onAbort = (): void => fail(new AbortError(`${what} aborted`, { cause: signal?.reason }));
  if (signal?.aborted) return onAbort(), false;
  // setTimeout fires at once for 2^31 ms or more: such a timeout (Infinity, say) is no limit, not an instant failure.
  const timer = timeout! < 2 ** 31 ? setTimeout(() => fail(new TimeoutError(`no answer to ${what} within ${timeout} ms`)), timeout) : undefined;
  signal?.addEventListener("abort", onAbort, { once: true });
  const cleanup = (): void => {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  };
  until.then(cleanup, cleanup);
  return true;
}
