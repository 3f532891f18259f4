// Runtime-agnostic: no Node, Deno or DOM APIs.
/** The Worker ({@link BaseWorker}); return codes follow libgearman's define-function, fixed where it is broken. @module */
import { ClosedError, type GearmanError, PolicyError } from "../errors.ts";
import { toBytes } from "../protocol/bytes.ts";
import * as PacketType from "../protocol/packet-numbers.ts";
import type { PacketArg } from "../protocol/packet.ts";
import { backoffDelay, deferred, type Deferred } from "./events.ts";
import {
  type FunctionDefinition, type FunctionOptions, GearmanReturn, type HandlerResult,
  isThenable, type JobHandler, type PartitionedFunction, thrownMessage, toDefinition,
} from "./functions.ts";
import { Job, type JobChannel } from "./job.ts";
import type { MapHost } from "./map-run.ts";
import { type ResolvedWorkerOptions, resolveWorkerOptions, type StopOptions, type WorkerOptions } from "./options.ts";
import type { Connector, ConnectorFactory } from "./transport.ts";
import { type Assignment, WorkerConnection } from "./worker-connection.ts";

interface Slot {
  readonly server: string;
  readonly connect: Connector;
  conn?: WorkerConnection | undefined;
  failures: number;
  timer?: ReturnType<typeof setTimeout> | undefined;
  /** Aborted by stop(): a connect still out ends at once, not at its timeout. One per server, so that a signal has few listeners. */
  readonly abort: AbortController;
}

// The back-off after ERROR, per function.
const ERROR_BACKOFF_BASE = 250, ERROR_BACKOFF_CAP = 30_000;

/**
 * Runs jobs for gearmand: connects to every server, grabs at most `concurrency` jobs at once over all of them, and
 * sends exactly one terminal packet per job (see the README's table of return codes). A lost connection is logged
 * (`warn`, once; its retries at `debug`) and reconnected with back-off. Errors are {@link GearmanError} subclasses.
 * @example
 * ```ts
 * const worker = new Worker({ servers: ["127.0.0.1:4730"], concurrency: 4 });
 * worker.defineFunction("reverse", (job) => [...job.text()].reverse().join(""));
 * await worker.start();
 * ```
 */
export class BaseWorker {
  readonly #options: ResolvedWorkerOptions;
  readonly #slots: Slot[];
  readonly #functions = new Map<string, FunctionDefinition>();
  readonly #errorCounts = new Map<string, number>();
  #running = 0;
  #grabsOut = 0;
  #started = false;
  #stopping = false;
  /** stop() is closing the connections: nothing more runs. */
  #closing = false;
  #idle: Deferred<void> | undefined;
  #mapHost: MapHost | undefined;
  /** Timers armed through `#after` and not yet fired: stop() clears them. */
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  /**
   * Creates a worker; `start()` connects it.
   * @throws {InvalidArgumentError} for bad options, no servers, or an address the connector cannot read.
   */
  constructor(options: WorkerOptions, defaultConnector?: ConnectorFactory) {
    this.#options = resolveWorkerOptions(options, defaultConnector);
    this.#slots = this.#options.servers.map((server) => ({ server, connect: this.#options.connector(server), failures: 0, abort: new AbortController() }));
  }

  /** Jobs running now (map jobs waiting on reducers excluded). */
  get running(): number {
    return this.#running;
  }

  /**
   * Defines a function: a handler, or `partitioned({ partition, aggregate })` for map/reduce. Registered with
   * CAN_DO on every connection (a `timeout` is kept by the worker, see FunctionOptions); defining a name again replaces it.
   * @throws {InvalidArgumentError} for a bad name (empty, NUL, over 512 bytes), a missing handler, or a `timeout` or
   * `maxInFlight` that is not a whole number in range.
   */
  defineFunction<C>(name: string, fn: JobHandler<C> | PartitionedFunction<C>, options: FunctionOptions<C> & { readonly context: C }): this;
  /** Defines a function without a typed context: `job.context` is `unknown` (a handler that expects a type of context needs `{ context }`). */
  defineFunction(name: string, fn: JobHandler | PartitionedFunction, options?: FunctionOptions): this;
  defineFunction<C = unknown>(name: string, fn: JobHandler<C> | PartitionedFunction<C>, options: FunctionOptions<C> = {}): this {
    const def = toDefinition(name, fn, options);
    this.#functions.set(name, def);
    // gearmand sends no NOOP for jobs queued before the CAN_DO: a sleeping connection grabs again.
    for (const s of this.#slots) {
      s.conn?.canDo(def);
      s.conn?.wake();
    }
    this.#pump();
    return this;
  }

  /** Removes a function (CANT_DO); gearmand takes back jobs of it this worker holds. */
  removeFunction(name: string): this {
    if (!this.#functions.delete(name)) return this;
    for (const s of this.#slots) {
      const conn = s.conn;
      if (!conn) continue;
      conn.cantDo(name);
      for (const { job } of conn.jobs.values()) if (job.functionName === name) job.abort_(`function ${name} was removed`);
    }
    return this;
  }

  /**
   * Connects to every server and takes jobs. Resolves once one is connected (and has answered the first GRAB); rejects,
   * leaving nothing running, if none is: with the first server's `ConnectionError`, or the `PolicyError` of a bridge that
   * refuses a function. It does not retry by itself then; call it again. Once started, lost connections are
   * reconnected. Rejects with `ClosedError` after (or during) `stop()`.
   */
  async start(): Promise<void> {
    if (this.#stopping) throw new ClosedError("this worker was stopped; create a new one");
    if (this.#started) return;
    this.#started = true;
    const attempts = this.#slots.map((s) => this.#connect(s));
    await Promise.any(attempts).catch((e: AggregateError) => {
      if (this.#slots.some((s) => s.conn)) return; // a retry connected meanwhile
      this.#started = false;
      for (const s of this.#slots) s.timer = void this.#cancel(s.timer);
      throw e.errors[0] ?? e;
    });
  }

  /**
   * Stops taking jobs; by default lets running ones finish (up to `timeout`, 30 s by default; map jobs still get
   * reducer jobs), then aborts what still runs (`job.signal`; gearmand requeues those jobs) and closes every connection.
   * The worker cannot be started again.
   */
  async stop(options: StopOptions = {}): Promise<void> {
    this.#stopping = true;
    for (const s of this.#slots) s.abort.abort();
    if ((options.graceful ?? true) && this.#busy()) {
      this.#idle ??= deferred<void>();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((r) => (timer = setTimeout(r, Math.min(options.timeout ?? 30_000, 2 ** 31 - 1))));
      await Promise.race([this.#idle.promise, deadline]);
      clearTimeout(timer);
    }
    this.#closing = true;
    for (const s of this.#slots) {
      for (const { job } of s.conn?.jobs.values() ?? []) job.abort_("the worker is stopping");
      s.conn?.close();
    }
    // Reconnects, job timeouts, ERROR back-offs: nothing armed here outlives stop().
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await this.#mapHost?.reducer?.close();
  }

  async #connect(slot: Slot): Promise<void> {
    slot.timer = undefined;
    if (this.#stopping) return;
    try {
      const transport = await slot.connect(slot.abort.signal);
      // Stopped, or a start() that failed (an attempt still out then comes to nothing), or connected meanwhile.
      if (this.#stopping || !this.#started || slot.conn) {
        transport.close();
        return;
      }
      const conn = new WorkerConnection(slot.server, transport, {
        assigned: (c, a) => this.#onAssigned(c, a),
        idle: (c, answeredGrab) => {
          if (answeredGrab) this.#grabAnswered(c);
          this.#release();
        },
        // JOB_NOT_FOUND follows a result for a job gearmand took back (timeout, requeue): expected.
        serverError: (c, code, text) => this.#options.logger[code === "JOB_NOT_FOUND" ? "debug" : "warn"]?.(`${c.server} answered ERROR ${code}: ${text}`),
        closed: (c, err) => this.#onClosed(slot, c, err),
      }, { maxPacketSize: this.#options.maxPacketSize, pollInterval: this.#options.pollInterval, tap: this.#options.tap });
      slot.conn = conn;
      conn.register(this.#options.clientId, this.#functions.values());
      this.#pump();
      // A bridge refuses a CAN_DO by closing: the GRAB's answer says the registration went through.
      const refused = conn.grabs > 0 && (await conn.answered.promise);
      if (refused || this.#stopping) throw refused; // stopped meanwhile: the catch makes it a ClosedError
      slot.failures = 0;
    } catch (err) {
      this.#scheduleReconnect(slot, err as Error);
      throw this.#stopping ? new ClosedError("the worker stopped while starting") : err;
    }
  }

  #scheduleReconnect(slot: Slot, err: Error | undefined): void {
    if (this.#stopping || !this.#started || slot.timer) return;
    // A policy close comes again on every attempt until the bridge's policy changes: say so, and retry only at the cap.
    if (err instanceof PolicyError) {
      this.#options.logger.error?.(`${slot.server}: ${err.message}`);
      slot.failures = 30;
    }
    const delay = backoffDelay(slot.failures++, this.#options.reconnectDelay, this.#options.maxReconnectDelay);
    this.#options.logger.debug?.(`reconnect to ${slot.server} in ${Math.round(delay)} ms: ${err?.message}`);
    slot.timer = this.#after(delay, () => void this.#connect(slot).catch(() => {}));
  }

  #onClosed(slot: Slot, conn: WorkerConnection, err: GearmanError | undefined): void {
    if (slot.conn === conn) slot.conn = undefined;
    this.#grabsOut -= conn.grabs;
    this.#release();
    // gearmand requeues every job this connection held; results sent now would be refused.
    for (const { job } of conn.jobs.values()) job.abort_(`connection to ${slot.server} lost`);
    if (!this.#stopping && !(err instanceof PolicyError)) this.#options.logger.warn?.(`connection to ${slot.server} lost: ${err?.message ?? "closed"}; reconnecting`);
    this.#scheduleReconnect(slot, err);
  }

  /**
   * Sends GRABs while slots are free: never more jobs than `concurrency`, one GRAB per free slot, pipelined and
   * spread over the connections that may grab. A connection with a GRAB out sends none: the answer to come says
   * whether the queue is empty (it then sleeps) or not (this runs again); grabbing meanwhile cost a NO_JOB per job.
   */
  #pump(): void {
    if (!this.#started || (this.#stopping && !this.#mapHost?.mapping) || this.#functions.size === 0) return;
    let free = this.#options.concurrency - this.#running - this.#grabsOut;
    let ready = 0;
    for (const s of this.#slots) if (s.conn?.canGrab && !s.conn.grabs) ready++;
    for (const { conn } of this.#slots) {
      if (free < 1 || !conn?.canGrab || conn.grabs) continue;
      const n = Math.ceil(free / ready--);
      free -= n;
      this.#grabsOut += n;
      for (let i = 0; i < n; i++) conn.grab();
    }
  }

  #onAssigned(conn: WorkerConnection, a: Assignment): void {
    const def = this.#functions.get(a.functionName);
    const job = new Job(a, def?.context, this.#channelOf(conn));
    conn.jobs.set(a.handle, { job, def });
    // Closing: a job a GRAB still brings is not run; gearmand gives it to another worker once the connection is gone.
    if (this.#closing || conn.parks(a.functionName)) job.abort_("parked");
    // Counted before the GRAB's answer is noted, which may pump: that must not see this job's slot as free.
    if (!job.ended && def && a.reducer === "") this.#running++;
    this.#grabAnswered(conn);
    // Parked: its function's CANT_DO gives it back.
    if (job.ended) return this.#pump();
    if (!def) {
      this.#options.logger.warn?.(`job ${a.handle}: no function ${a.functionName} here, failing it`);
      this.#finish(conn, job, PacketType.WORK_FAIL, [a.handle], `no handler for ${a.functionName}`);
    } else if (a.reducer !== "") {
      // libgearman runs any function as a mapper; here only a partitioned() one brings what that takes.
      if (def.run) def.run(this.#host(), conn, job, def);
      else this.#finish(conn, job, PacketType.WORK_FAIL, [a.handle], `a reduce job needs partitioned(): ${def.name} is not`);
    } else this.#run(conn, job, def);
    this.#pump();
  }

  /** Runs the handler; a handler that returns without a promise is concluded at once, with no promise made. */
  #run(conn: WorkerConnection, job: Job<unknown>, def: FunctionDefinition): void {
    const timer = def.timeout > 0 ? this.#after(def.timeout, () => this.#timedOut(conn, job, def)) : undefined;
    let outcome: HandlerResult | Promise<HandlerResult>;
    try {
      outcome = def.handler(job);
    } catch (err) {
      return this.#conclude(conn, job, def, true, err, timer);
    }
    if (!isThenable(outcome)) return this.#conclude(conn, job, def, false, outcome, timer);
    // Promise.resolve: a thenable whose `then` throws becomes a rejection, as `await` would make it.
    Promise.resolve(outcome).then(
      (value) => this.#conclude(conn, job, def, false, value, timer),
      (err: unknown) => this.#conclude(conn, job, def, true, err, timer),
    );
  }

  /** One channel per connection, shared by its jobs: what a job sends goes out on the connection that assigned it. */
  #channelOf(conn: WorkerConnection): JobChannel {
    return (conn.channel ??= {
      send: (type, args) => conn.send(type, args),
      late: (what, handle) => this.#options.logger.warn?.(`${what} after job ${handle} ended: ignored`),
    });
  }

  /** Turns the handler's outcome (what it threw when `threw`) into the job's terminal packet, then frees the slot. */
  #conclude(
    conn: WorkerConnection, job: Job<unknown>, def: FunctionDefinition, threw: boolean, outcome: unknown,
    timer: ReturnType<typeof setTimeout> | undefined,
  ): void {
    this.#cancel(timer);
    this.#settle(conn, job, def, threw, outcome);
    this.#running--;
    this.#release();
  }

  #settle(conn: WorkerConnection, job: Job<unknown>, def: FunctionDefinition, threw: boolean, outcome: unknown): void {
    const h = job.handle;
    if (job.ended) {
      // A timed-out job may have come back to this connection, under the same handle, while this
      // handler still ran: that entry is the new run's, and removing it would let CANT_DO take it back.
      if (conn.jobs.get(h)?.job === job) conn.jobs.delete(h);
      if (!job.signal.aborted) this.#options.logger.warn?.(`${def.name} returned after job ${h} ended: dropped`);
      return;
    }
    if (threw) {
      const message = thrownMessage(outcome);
      if (def.exceptions) return this.#finish(conn, job, PacketType.WORK_EXCEPTION, [h, message]);
      return this.#finish(conn, job, PacketType.WORK_FAIL, [h], message);
    }
    if (outcome === GearmanReturn.ERROR) return this.#requeue(conn, job, def);
    if (outcome === GearmanReturn.FAIL) return this.#finish(conn, job, PacketType.WORK_FAIL, [h]);
    this.#errorCounts.delete(def.name);
    if (outcome === undefined || outcome === GearmanReturn.SUCCESS) return this.#finish(conn, job, PacketType.WORK_COMPLETE, [h, ""]);
    if (typeof outcome === "string" || outcome instanceof Uint8Array) return this.#finish(conn, job, PacketType.WORK_COMPLETE, [h, toBytes(outcome)]);
    this.#options.logger.warn?.(`${def.name} returned a ${typeof outcome}, not a payload: job ${h} fails`);
    this.#finish(conn, job, PacketType.WORK_FAIL, [h]);
  }

  /** Sends the job's terminal packet (after a WORK_WARNING when `warning` is given) and frees its slot. */
  #finish(conn: WorkerConnection, job: Job<unknown>, type: number, args: readonly PacketArg[], warning?: string): void {
    job.end_(type, args, warning);
    conn.jobs.delete(job.handle);
    this.#afterJob(conn, job.functionName);
  }

  /**
   * ERROR: give the job back to gearmand without disturbing other jobs. CANT_DO requeues the
   * function's jobs held on this connection, so it waits until no sibling of that function runs
   * here; then this worker stays away from the function for a jittered, growing back-off.
   */
  #requeue(conn: WorkerConnection, job: Job<unknown>, def: FunctionDefinition): void {
    job.abort_("handler returned ERROR: requeued");
    this.#errorCounts.set(def.name, (this.#errorCounts.get(def.name) ?? 0) + 1);
    conn.drain(def.name);
    this.#afterJob(conn, def.name);
  }

  /**
   * The job's timeout passed: stop the handler (job.signal), send nothing more for it, and give the function's jobs
   * held here back to gearmand as for ERROR (CANT_DO), which hands them out again. gearmand's own CAN_DO_TIMEOUT is
   * not used: its one timer per connection requeues a freed job (see worker-connection.ts `canDo`).
   */
  #timedOut(conn: WorkerConnection, job: Job<unknown>, def: FunctionDefinition): void {
    if (job.ended) return;
    job.abort_(`timeout of ${def.timeout} ms for ${def.name} reached`);
    conn.drain(def.name);
    this.#afterJob(conn, def.name);
  }

  #afterJob(conn: WorkerConnection, name: string): void {
    // A GRAB still out may be answered with a job of this function, which the CANT_DO would take
    // back while it runs here (it would run twice): wait for every answer (#grabAnswered).
    if (!conn.deferredRequeue.has(name) || conn.heldOf(name) > 0 || conn.grabs > 0) return;
    conn.pause(name);
    const delay = backoffDelay((this.#errorCounts.get(name) ?? 1) - 1, ERROR_BACKOFF_BASE, ERROR_BACKOFF_CAP);
    this.#options.logger.debug?.(`${name} returned ERROR; retry in ${Math.round(delay)} ms`);
    this.#after(delay, () => {
      const def = this.#functions.get(name);
      if (def && !conn.closed && !this.#stopping && conn.paused.has(name)) {
        conn.canDo(def);
        // gearmand sends no NOOP for a job already queued when a function is registered again.
        if (conn.sleeping) conn.wake();
        else this.#pump();
      }
    });
    this.#pump();
  }

  /** A GRAB was answered: one fewer is out, and functions that waited for it to be given back may be now. */
  #grabAnswered(conn: WorkerConnection): void {
    this.#grabsOut--;
    if (conn.deferredRequeue.size === 0) return;
    for (const name of [...conn.deferredRequeue.keys()]) this.#afterJob(conn, name);
  }

  /** What map jobs (map-run.ts) may use of this worker. */
  #host(): MapHost {
    return (this.#mapHost ??= {
      options: this.#options,
      stopping: () => this.#stopping,
      mapping: 0,
      queue: [],
      release: () => this.#release(),
      finish: (conn, job, type, args, warning) => this.#finish(conn, job, type, args, warning),
      requeue: (conn, job, def) => this.#requeue(conn, job, def),
      timedOut: (conn, job, def) => this.#timedOut(conn, job, def),
      timers: this.#timers,
    });
  }

  /** setTimeout, kept for stop() to clear. */
  #after(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => (this.#timers.delete(t), fn()), ms);
    this.#timers.add(t);
    return t;
  }

  #cancel(t: ReturnType<typeof setTimeout> | undefined): void {
    clearTimeout(t);
    this.#timers.delete(t!);
  }

  /** Jobs run here: plain ones, and map jobs waiting on reducers. */
  #busy(): boolean {
    return this.#running + (this.#mapHost?.mapping ?? 0) > 0;
  }

  #release(): void {
    if (!this.#busy()) this.#idle = void this.#idle?.resolve();
    this.#pump();
  }
}
