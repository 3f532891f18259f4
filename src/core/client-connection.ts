// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * The client's state machine for one server connection: requests answered in order (JOB_CREATED,
 * STATUS_RES, ECHO_RES, OPTION_RES, or an ERROR in their place), and WORK_* packets routed to tasks
 * by handle. A bounded window of unanswered requests keeps gearmand's buffers small.
 * @module
 */
import { ClosedError, type GearmanError, ProtocolError, ServerError } from "../errors.ts";
import { type Packet, type PacketArg, argText } from "../protocol/packet.ts";
import * as PacketType from "../protocol/packet-numbers.ts";
import { packetTypeName } from "../protocol/packet-types.ts";
import { PacketConnection, type PacketConnectionOptions } from "./connection.ts";
import type { Logger } from "./events.ts";
import type { Task } from "./task.ts";
import type { Transport } from "./transport.ts";

/** A request waiting for its one reply: a submit carries its task, anything else its callbacks. */
interface Request {
  readonly type: number;
  readonly args: readonly PacketArg[];
  readonly expect: number;
  readonly task: Task | undefined;
  readonly ok: ((packet: Packet) => void) | undefined;
  readonly fail: ((error: GearmanError) => void) | undefined;
}

/** What a {@link ClientConnection} tells its client. */
export interface ClientConnectionEvents {
  /** The connection closed; `orphans` are the tasks that were in flight on it. */
  closed(conn: ClientConnection, error: GearmanError | undefined, orphans: Task[]): void;
  /** The server created the job of a submitted task. */
  created(conn: ClientConnection, task: Task, handle: string): void;
  /** A submit was refused (ERROR) or its connection was lost before JOB_CREATED. */
  submitFailed(conn: ClientConnection, task: Task, error: GearmanError): void;
}

/** Foreground jobs of one handle on one connection. gearmand sends every WORK_* packet once per
 * listener, so a connection that submitted one job twice (coalesced by unique) gets each packet twice:
 * `listeners` counts them and `skip` swallows the copies, which arrive back to back. */
interface HandleEntry {
  tasks: Task[];
  listeners: number;
  skip: number;
}

/** One connection of a client to one server. */
export class ClientConnection {
  readonly server: string;
  #conn: PacketConnection;
  #events: ClientConnectionEvents;
  #logger: Logger;
  #window: number;
  #awaiting: Request[] = [];
  #awaitingHead = 0;
  #backlog: Request[] = [];
  #backlogHead = 0;
  /** Foreground jobs by handle. */
  #tasks = new Map<string, HandleEntry>();

  constructor(
    server: string,
    transport: Transport,
    events: ClientConnectionEvents,
    options: PacketConnectionOptions & { logger: Logger; window: number },
  ) {
    this.server = server;
    this.#events = events;
    this.#logger = options.logger;
    this.#window = options.window;
    this.#conn = new PacketConnection(transport, {
      packet: (p) => this.#onPacket(p),
      closed: (err) => this.#onClosed(err),
    }, options);
  }

  /** True once the connection is gone. */
  get closed(): boolean {
    return this.#conn.closed;
  }

  /** Sends a request whose one reply has type `expect` (or ERROR). */
  request(type: number, args: readonly PacketArg[], expect: number, ok: (p: Packet) => void, fail: (e: GearmanError) => void): void {
    this.#enqueue({ type, args, expect, task: undefined, ok, fail });
  }

  /** Submits a task (its SUBMIT_* packet); it receives its WORK_* packets from now on. */
  submit(task: Task): void {
    this.#enqueue({ type: task.spec.packetType, args: task.spec.args, expect: PacketType.JOB_CREATED, task, ok: undefined, fail: undefined });
  }

  /** Stops routing WORK_* packets to a task that ended. */
  forget(task: Task): void {
    const tasks = this.#tasks.get(task.handle!)?.tasks;
    const i = tasks?.indexOf(task) ?? -1;
    if (i >= 0) tasks!.splice(i, 1);
  }

  #enqueue(req: Request): void {
    if (this.#awaiting.length - this.#awaitingHead >= this.#window) this.#backlog.push(req);
    else this.#write(req);
  }

  #created(task: Task, p: Packet): void {
    const handle = argText(p, 0);
    if (!task.spec.background) {
      let entry = this.#tasks.get(handle);
      if (!entry) this.#tasks.set(handle, (entry = { tasks: [], listeners: 0, skip: 0 }));
      // The server attached this connection as a listener even if the task already ended locally.
      entry.listeners++;
      if (!task.done) {
        entry.tasks.push(task);
        task.owner = this;
      }
    }
    task.created_(handle);
    this.#events.created(this, task, handle);
  }

  #failed(req: Request, error: GearmanError): void {
    if (req.task) this.#events.submitFailed(this, req.task, error);
    else req.fail!(error);
  }

  /** Flushes and closes. */
  close(): void {
    this.#conn.close();
  }

  #write(req: Request): void {
    this.#awaiting.push(req);
    try {
      this.#conn.send(req.type, req.args);
    } catch (err) {
      this.#awaiting.pop();
      this.#failed(req, err as GearmanError);
    }
  }

  #shift(): Request | undefined {
    if (this.#awaitingHead >= this.#awaiting.length) return undefined;
    const req = this.#awaiting[this.#awaitingHead++]!;
    // Compact now and then rather than shifting per reply.
    if (this.#awaitingHead > 1024 && this.#awaitingHead * 2 > this.#awaiting.length) {
      this.#awaiting = this.#awaiting.slice(this.#awaitingHead);
      this.#awaitingHead = 0;
    }
    if (this.#backlogHead < this.#backlog.length) {
      const next = this.#backlog[this.#backlogHead++]!;
      if (this.#backlogHead === this.#backlog.length) {
        this.#backlog = [];
        this.#backlogHead = 0;
      }
      this.#write(next);
    }
    return req;
  }

  #onPacket(p: Packet): void {
    switch (p.type) {
      case PacketType.WORK_DATA:
      case PacketType.WORK_WARNING:
      case PacketType.WORK_STATUS:
      case PacketType.WORK_COMPLETE:
      case PacketType.WORK_FAIL:
      case PacketType.WORK_EXCEPTION:
        return this.#onWork(p);
      case PacketType.ERROR: {
        const req = this.#shift();
        const err = new ServerError(argText(p, 0), argText(p, 1));
        if (req) this.#failed(req, err);
        else this.#logger.warn?.(`unsolicited from ${this.server}: ${err.message}`);
        return;
      }
      case PacketType.JOB_CREATED:
      case PacketType.STATUS_RES:
      case PacketType.STATUS_RES_UNIQUE:
      case PacketType.ECHO_RES:
      case PacketType.OPTION_RES: {
        const req = this.#shift();
        if (!req || req.expect !== p.type) {
          const expected = req ? packetTypeName(req.expect) : "nothing";
          // The request stays pending, so that it fails with the error rather than waiting forever.
          if (req) this.#awaitingHead--;
          return this.#conn.close(new ProtocolError("unexpected_packet", `${this.server} sent ${packetTypeName(p.type)}, expected ${expected}`));
        }
        if (req.task) this.#created(req.task, p);
        else req.ok!(p);
        return;
      }
      default:
        this.#logger.debug?.(`ignoring ${packetTypeName(p.type)} from ${this.server}`);
    }
  }

  #onWork(p: Packet): void {
    let handle = argText(p, 0);
    // gearmand appends a NUL to the handle of a WORK_FAIL converted from WORK_EXCEPTION (protocol.md §6).
    if (p.type === PacketType.WORK_FAIL && handle.endsWith("\0")) handle = handle.replace(/\0+$/, "");
    const entry = this.#tasks.get(handle);
    if (!entry) return;
    const terminal = p.type === PacketType.WORK_COMPLETE || p.type === PacketType.WORK_FAIL || p.type === PacketType.WORK_EXCEPTION;
    if (entry.skip > 0) {
      entry.skip--;
      if (terminal && entry.skip === 0) this.#tasks.delete(handle);
      return;
    }
    entry.skip = entry.listeners - 1;
    // A listener may end its task (and so change the list) while it is being served.
    for (const task of entry.tasks.length === 1 ? entry.tasks : entry.tasks.slice()) task.work_(p.type, p.args);
    if (terminal && entry.skip === 0) this.#tasks.delete(handle);
  }

  #onClosed(error: GearmanError | undefined): void {
    const pending = [...this.#awaiting.slice(this.#awaitingHead), ...this.#backlog.slice(this.#backlogHead)];
    this.#awaiting = [];
    this.#awaitingHead = 0;
    this.#backlog = [];
    this.#backlogHead = 0;
    const orphans: Task[] = [];
    for (const entry of this.#tasks.values()) orphans.push(...entry.tasks);
    this.#tasks.clear();
    for (const t of orphans) t.owner = undefined;
    this.#events.closed(this, error, orphans);
    const err = error ?? new ClosedError(`closed before ${this.server} answered`);
    for (const req of pending) this.#failed(req, err);
  }
}
