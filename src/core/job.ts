// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Job: the worker side of one assigned job. Sends after the job ended are ignored and logged, so
 * every job gets exactly one terminal packet whatever the handler does.
 * @module
 */
import { type Payload, toBytes, utf8 } from "../protocol/bytes.ts";
import * as PacketType from "../protocol/packet-numbers.ts";
import type { PacketArg } from "../protocol/packet.ts";

/** How a job reaches the wire (the worker connection) and its map/reduce fan-out. */
export interface JobChannel {
  /** Sends a packet for this job unless the connection is gone; a promise while the connection pushes back. */
  send(type: number, args: readonly PacketArg[]): Promise<void> | undefined | void;
  /** A send after the end. */
  late(what: string, handle: string): void;
  /** In a map job, `sendData` goes here instead of WORK_DATA. */
  reduce?: (chunk: Uint8Array) => Promise<void>;
}

/**
 * A job assigned to this worker.
 * @example
 * ```ts
 * worker.defineFunction("reverse", (job) => [...job.text()].reverse().join(""));
 * ```
 */
export class Job<C = unknown> {
  /** Job handle, e.g. `H:host:42`. */
  declare readonly handle: string;
  /** Function name as the server sent it. */
  declare readonly functionName: string;
  /** Unique id ("" when the client gave none or the assignment carried none). */
  declare readonly unique: string;
  /** Reducer function name of a map job, "" otherwise. */
  declare readonly reducer: string;
  /** The workload, as received. */
  declare readonly workload: Uint8Array;
  /** The context given to `defineFunction`. */
  readonly context: C;
  #controller: AbortController | undefined;
  #channel: JobChannel;
  #ended = false;

  /** @internal Jobs are made by the worker. */
  constructor(fields: { handle: string; functionName: string; unique: string; reducer: string; workload: Uint8Array }, context: C, channel: JobChannel) {
    // `fields` is an assignment, or a Job for a map job's copy (its own context is set next; private state is not copied).
    Object.assign(this, fields);
    this.context = context;
    this.#channel = channel;
  }

  /**
   * Aborted when the job must stop: its timeout, a requeue, `removeFunction`, its connection lost, the worker's stop
   * (what the handler returns then is dropped). Made on first use: an
   * AbortController costs more than the rest of a small job.
   */
  get signal(): AbortSignal {
    return (this.#controller ??= new AbortController()).signal;
  }

  /** True once the job ended (terminal packet sent, or the job was taken back). */
  get ended(): boolean {
    return this.#ended;
  }

  /** The workload read as UTF-8. */
  text(): string {
    return utf8(this.workload);
  }

  /**
   * Sends a piece of the result (WORK_DATA). The promise waits while the connection pushes back, so a
   * handler that awaits it streams with bounded memory. In a map job it becomes a reducer job instead,
   * and the promise waits while too many reducer jobs are in flight. Rejects with `InvalidArgumentError`, sending
   * nothing, when the packet would be over the worker's `maxPacketSize`.
   */
  async sendData(data: Payload): Promise<void> {
    if (this.#ended) return this.#channel.late("sendData", this.handle);
    if (this.#channel.reduce) return await this.#channel.reduce(toBytes(data));
    await this.#channel.send(PacketType.WORK_DATA, [this.handle, toBytes(data)]);
  }

  /** Reports progress (WORK_STATUS), e.g. `sendStatus(3, 10)`. */
  sendStatus(numerator: number, denominator: number): void {
    if (this.#ended) return this.#channel.late("sendStatus", this.handle);
    this.#channel.send(PacketType.WORK_STATUS, [this.handle, String(Math.trunc(numerator)), String(Math.trunc(denominator))]);
  }

  /** Sends a warning (WORK_WARNING); the client keeps it with the task. */
  sendWarning(data: Payload): void {
    if (this.#ended) return this.#channel.late("sendWarning", this.handle);
    this.#channel.send(PacketType.WORK_WARNING, [this.handle, toBytes(data)]);
  }

  /** @internal Ends the job with its terminal packet (after a warning when `warning` is given); false when it had already ended. */
  end_(type: number, args: readonly PacketArg[], warning?: PacketArg): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    try {
      if (warning !== undefined) this.#channel.send(PacketType.WORK_WARNING, [this.handle, warning]);
      this.#channel.send(type, args);
    } catch (err) {
      // Over maxPacketSize: the job fails with the reason instead of staying assigned (or being requeued for ever).
      this.#channel.send(PacketType.WORK_WARNING, [this.handle, (err as Error).message]);
      this.#channel.send(PacketType.WORK_FAIL, [this.handle]);
    }
    return true;
  }

  /** @internal Takes the job away without sending anything (timeout, requeue, stop). */
  abort_(reason: string): void {
    this.#ended = true;
    if (!this.signal.aborted) this.#controller!.abort(new Error(reason));
  }
}
