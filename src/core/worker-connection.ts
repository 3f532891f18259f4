// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * The worker's state machine for one server connection: registration, the grab / sleep / wake
 * loop, and ERROR packets taken as asynchronous events that never disturb the loop's bookkeeping.
 * @module
 */
import { ConnectionError, type GearmanError } from "../errors.ts";
import { argText, type Packet, type PacketArg } from "../protocol/packet.ts";
import * as PacketType from "../protocol/packet-numbers.ts";
import { packetTypeName } from "../protocol/packet-types.ts";
import { PacketConnection, type PacketConnectionOptions } from "./connection.ts";
import { type Deferred, deferred } from "./events.ts";
import type { FunctionDefinition } from "./functions.ts";
import type { Job, JobChannel } from "./job.ts";
import type { Transport } from "./transport.ts";

/** A job assignment as it arrived. */
export interface Assignment {
  handle: string;
  functionName: string;
  unique: string;
  reducer: string;
  workload: Uint8Array;
}

/** What a {@link WorkerConnection} reports to the worker. */
export interface WorkerConnectionOwner {
  assigned(conn: WorkerConnection, assignment: Assignment): void;
  /** A GRAB was answered with NO_JOB (`answeredGrab`), or a NOOP woke the connection: it may grab again. */
  idle(conn: WorkerConnection, answeredGrab: boolean): void;
  serverError(conn: WorkerConnection, code: string, text: string): void;
  closed(conn: WorkerConnection, error: GearmanError | undefined): void;
}

/** One worker connection to one server. */
export class WorkerConnection {
  readonly server: string;
  /** GRABs sent and not answered yet (several may be out: one per free slot). */
  grabs = 0;
  /** A GRAB was answered NO_JOB while others are still out: send no more until they are answered. */
  #sawNoJob = false;
  /** PRE_SLEEP sent; waiting for NOOP. */
  sleeping = false;
  /** Jobs held on this connection, by handle. */
  readonly jobs: Map<string, { job: Job<unknown>; def: FunctionDefinition | undefined }> = new Map();
  /** Functions given back with CANT_DO until their back-off ends. */
  readonly paused: Set<string> = new Set();
  /** Functions with an errored or timed-out job, waiting for their other jobs here to end before CANT_DO (→ GRABs sent by then). */
  readonly deferredRequeue: Map<string, number> = new Map();
  /** Functions of which a job is parked (see `parks`). */
  readonly parked: Set<string> = new Set();
  /** What the jobs of this connection send through (made by the worker on first use). */
  channel: JobChannel | undefined;
  /** Settles on the first packet from the server (undefined), or on the close before it (its error): a bridge refuses a CAN_DO by closing. */
  readonly answered: Deferred<GearmanError | undefined> = deferred();
  #conn: PacketConnection;
  #owner: WorkerConnectionOwner;
  #pollInterval: number;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  /** Armed while GRABs are out: gearmand answers a GRAB at once, so a server silent this long is hung. */
  #watchdog: ReturnType<typeof setTimeout> | undefined;
  /** Packets received: what the watchdog looks at. */
  #heard = 0;
  #grabsSent = 0;
  /** Functions registered now (CAN_DO and no CANT_DO since). */
  #registered = new Set<string>();

  constructor(
    server: string,
    transport: Transport,
    owner: WorkerConnectionOwner,
    options: PacketConnectionOptions & { pollInterval?: number },
  ) {
    this.server = server;
    this.#owner = owner;
    this.#pollInterval = options.pollInterval ?? 0;
    this.#conn = new PacketConnection(transport, {
      packet: (p) => this.#onPacket(p),
      closed: (err) => {
        this.answered.resolve(err);
        clearTimeout(this.#pollTimer);
        clearTimeout(this.#watchdog);
        owner.closed(this, err);
      },
    }, options);
  }

  /** True once the connection is gone. */
  get closed(): boolean {
    return this.#conn.closed;
  }

  /** Another GRAB may be sent now; not while every function registered drains: it could only bring jobs to park. */
  get canGrab(): boolean {
    return !this.#conn.closed && !this.sleeping && !this.#sawNoJob && !this.parked.size && this.#registered.size > this.deferredRequeue.size;
  }

  /** SET_CLIENT_ID, then CAN_DO for every function, as libgearman does on every connection. */
  register(clientId: string | undefined, defs: Iterable<FunctionDefinition>): void {
    if (clientId !== undefined) this.send(PacketType.SET_CLIENT_ID, [clientId]);
    for (const def of defs) this.canDo(def);
  }

  /** Registers one function. */
  canDo(def: FunctionDefinition): void {
    this.paused.delete(def.name);
    this.#registered.add(def.name);
    // Never CAN_DO_TIMEOUT: gearmand 1.1.20 keeps one timer per connection, bound to its first job, and on expiry
    // requeues that job even long after it was freed (later jobs are lost). The worker keeps the timeout itself.
    this.send(PacketType.CAN_DO, [def.name]);
  }

  /** Unregisters one function; gearmand requeues the jobs of it this connection holds, parked ones included. */
  cantDo(name: string): void {
    this.deferredRequeue.delete(name);
    this.parked.delete(name);
    this.#registered.delete(name);
    this.send(PacketType.CANT_DO, [name]);
  }

  /** CANT_DO for a back-off; the function's ended jobs here are forgotten (gearmand takes back what it still holds). */
  pause(name: string): void {
    for (const [h, { job }] of this.jobs) if (job.functionName === name && job.ended) this.jobs.delete(h);
    this.cantDo(name);
    this.paused.add(name);
  }

  /** Gives a function back with CANT_DO once its other jobs here end (the worker's `#afterJob`). */
  drain(name: string): void {
    if (!this.deferredRequeue.has(name)) this.deferredRequeue.set(name, this.#grabsSent);
  }

  /**
   * True for a job of a draining function brought by a GRAB sent since (the connection grabs on for the other
   * functions): it is parked, not run, until the CANT_DO gives it back, and no GRAB goes out till then.
   */
  parks(name: string): boolean {
    const park = this.#grabsSent - this.grabs > (this.deferredRequeue.get(name) ?? Infinity);
    if (park) this.parked.add(name);
    return park;
  }

  /** Asks for a job. */
  grab(): void {
    this.grabs++;
    this.#grabsSent++;
    this.sleeping = false;
    clearTimeout(this.#pollTimer);
    this.send(PacketType.GRAB_JOB_ALL, []);
    if (!this.#watchdog) this.#watch(this.#heard);
  }

  /**
   * While GRABs are out, checks every pollInterval + 1 s that the server said anything since the last check: a
   * server that stays silent is hung, and the connection closes (and reconnects). A count, not a timer per packet.
   */
  #watch(seen: number): void {
    this.#watchdog = setTimeout(() => {
      this.#watchdog = undefined;
      if (this.grabs && this.#heard === seen) this.#conn.close(new ConnectionError(`${this.server} went silent`));
      else if (this.grabs) this.#watch(this.#heard);
    }, this.#pollInterval + 1000);
  }

  /**
   * Stops waiting for NOOP so the worker grabs again. gearmand does not wake a sleeper when a
   * function is registered again, nor reliably when it requeues a timed-out job or an epoch job
   * falls due; this is also what the poll timer does.
   */
  wake(): void {
    if (!this.sleeping || this.closed) return;
    this.sleeping = false;
    clearTimeout(this.#pollTimer);
    this.#owner.idle(this, false);
  }

  /** Sends a packet if the connection is still up; a promise while the transport pushes back (PacketConnection.send). */
  send(type: number, args: readonly PacketArg[]): Promise<void> | undefined {
    return this.#conn.closed ? undefined : this.#conn.send(type, args);
  }

  /** Counts the jobs of one function held here. */
  heldOf(name: string): number {
    let n = 0;
    for (const { job } of this.jobs.values()) if (job.functionName === name && !job.ended) n++;
    return n;
  }

  /** Flushes and closes. */
  close(): void {
    clearTimeout(this.#pollTimer);
    this.#conn.close();
  }

  #onPacket(p: Packet): void {
    this.answered.resolve(undefined);
    this.#heard++;
    switch (p.type) {
      case PacketType.NO_JOB:
        // With other GRABs still out, send no more and sleep once they are all answered.
        this.#sawNoJob = --this.grabs > 0;
        if (!this.#sawNoJob) {
          this.sleeping = true;
          this.send(PacketType.PRE_SLEEP, []);
          // Like libgearman (GEARMAN_WORKER_WAIT_TIMEOUT), grab again after a while even without NOOP.
          clearTimeout(this.#pollTimer);
          if (this.#pollInterval > 0) this.#pollTimer = setTimeout(() => this.wake(), this.#pollInterval);
        }
        this.#owner.idle(this, true);
        return;
      case PacketType.NOOP:
        this.wake();
        return;
      case PacketType.JOB_ASSIGN:
      case PacketType.JOB_ASSIGN_UNIQ:
      case PacketType.JOB_ASSIGN_ALL: {
        this.grabs--;
        this.#sawNoJob = false;
        const all = p.type === PacketType.JOB_ASSIGN_ALL;
        const uniq = p.type !== PacketType.JOB_ASSIGN;
        this.#owner.assigned(this, {
          handle: argText(p, 0),
          functionName: argText(p, 1),
          unique: uniq ? argText(p, 2) : "",
          reducer: all ? argText(p, 3) : "",
          workload: p.args[p.args.length - 1]!,
        });
        return;
      }
      case PacketType.ERROR:
        this.#owner.serverError(this, argText(p, 0), argText(p, 1));
        return;
      default:
        this.#owner.serverError(this, "UNEXPECTED_PACKET", `ignored ${packetTypeName(p.type)}`);
    }
  }
}
