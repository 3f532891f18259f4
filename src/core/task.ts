// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Task: the client side of one submitted job. Its events arrive by callback (`on`) or by
 * `for await`; `result()` settles with the outcome.
 * @module
 */
import { concatBytes, utf8 } from "../protocol/bytes.ts";
import * as PacketType from "../protocol/packet-numbers.ts";
import { JobExceptionError, JobFailedError } from "../errors.ts";
import { type Deferred, deferred, guarded, QueuedIterator } from "./events.ts";

/** An event of a task, discriminated by `type`. */
export type TaskEvent =
  | { readonly type: "created"; readonly handle: string }
  | { readonly type: "data"; readonly data: Uint8Array }
  | { readonly type: "warning"; readonly data: Uint8Array }
  | { readonly type: "status"; readonly numerator: number; readonly denominator: number }
  | { readonly type: "complete"; readonly data: Uint8Array }
  | { readonly type: "fail" }
  | { readonly type: "exception"; readonly data: Uint8Array };

/** The `type` of a {@link TaskEvent}. */
export type TaskEventType = TaskEvent["type"];
/** The event of a given type. */
export type TaskEventOf<K extends TaskEventType> = Extract<TaskEvent, { type: K }>;

/** Submission priority. */
export type Priority = "high" | "normal" | "low";

/** How a task is submitted; set by the client. */
export interface TaskSpec {
  /** Function to run. */
  readonly functionName: string;
  /** Unique id ("" for none). */
  readonly unique: string;
  /** Keep WORK_DATA payloads to return them from `output()`. */
  readonly collect: boolean;
  /** The SUBMIT_* packet type. */
  readonly packetType: number;
  /** The SUBMIT_* fields. */
  readonly args: readonly (Uint8Array | string)[];
  /** A background submit: no WORK_* packets follow. */
  readonly background: boolean;
}

type Listener = (event: TaskEvent) => void;

/**
 * A foreground job submitted by a client (`client.submit`, `client.submitReduce`). It settles exactly once: with
 * the result, a `JobFailedError` / `JobExceptionError`, or the error that ended it otherwise (`ConnectionError`,
 * `ClosedError`, `TimeoutError`, `AbortError`, `ServerError`).
 * @example
 * ```ts
 * const task = client.submit("reverse", "hello");
 * task.on("status", (e) => console.log(`${e.numerator}/${e.denominator}`));
 * const bytes = await task.result();
 * ```
 */
export class Task {
  /** Function name. */
  readonly functionName: string;
  /** Unique id, "" when none. */
  readonly unique: string;
  /** @internal */
  readonly spec: TaskSpec;
  #handle: string | undefined;
  // Everything below is made on first use: most tasks are awaited once and never listened to, and a
  // pending task should cost little memory (thousands may be in flight).
  #listeners: Map<TaskEventType | "*", Set<Listener>> | undefined;
  #iterators: QueuedIterator<TaskEvent>[] | undefined;
  #created: Deferred<string> | undefined;
  /** Made by `result()`, or at the latest when the task settles. */
  #result: Deferred<Uint8Array> | undefined;
  #data: Uint8Array[] | undefined;
  #warnings: Uint8Array[] | undefined;
  #done = false;
  /** The error that ended the task without a terminal event: what iterators throw. */
  #thrown: Error | undefined;
  /** @internal The connection routing this task's WORK_* packets; told when the task settles. */
  owner: { forget(task: Task): void } | undefined;
  /** @internal Resubmits so far (resubmitOnReconnect). */
  attempt = 0;

  /** @internal Tasks are made by `Client.submit`. */
  constructor(spec: TaskSpec) {
    this.spec = spec;
    this.functionName = spec.functionName;
    this.unique = spec.unique;
  }

  /** The job handle, once the server created the job. */
  get handle(): string | undefined {
    return this.#handle;
  }

  /** True once the task ended (result, failure or error). */
  get done(): boolean {
    return this.#done;
  }

  /** Resolves with the job handle once the server acknowledged the submit; rejects with the task's error if it ends before that. */
  created(): Promise<string> {
    return this.#handle !== undefined ? Promise.resolve(this.#handle) : (this.#created ??= deferred<string>()).promise;
  }

  /**
   * Resolves with the WORK_COMPLETE payload (without the WORK_DATA before it: see `output()`); rejects with
   * `JobFailedError`, `JobExceptionError` or the error that ended the task.
   */
  result(): Promise<Uint8Array> {
    return (this.#result ??= deferred<Uint8Array>()).promise;
  }

  /**
   * Resolves as `gearman_client_do` does: every WORK_DATA payload, then the WORK_COMPLETE payload (the WORK_DATA
   * only when the submit's `collect` was on, the default); rejects as `result()`.
   */
  async output(): Promise<Uint8Array> {
    const last = await this.result();
    if (!this.#data || this.#data.length === 0) return last;
    return concatBytes([...this.#data, last]);
  }

  /**
   * Subscribes to one event type, or to all with `"*"`. Returns a function that unsubscribes. A listener that throws
   * changes nothing for this task or others; its error surfaces as an uncaught exception, as an EventEmitter's would.
   */
  on<K extends TaskEventType | "*">(type: K, listener: (event: K extends TaskEventType ? TaskEventOf<K> : TaskEvent) => void): () => void {
    const listeners = (this.#listeners ??= new Map());
    let set = listeners.get(type);
    if (!set) listeners.set(type, (set = new Set()));
    set.add(listener as Listener);
    return () => set.delete(listener as Listener);
  }

  /**
   * Iterates over the events from now on; ends after the terminal event (`complete`, `fail`, `exception`), or
   * throws the error that ended the task otherwise (`TimeoutError`, `AbortError`, `ConnectionError`, …).
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<TaskEvent> {
    const it = new QueuedIterator<TaskEvent>();
    if (this.#done) it.end(this.#thrown);
    else (this.#iterators ??= []).push(it);
    return it;
  }

  /** @internal The server created the job. */
  created_(handle: string): void {
    if (this.#done) return;
    this.#handle = handle;
    this.#created?.resolve(handle);
    this.#emit({ type: "created", handle });
  }

  /**
   * @internal A WORK_* packet of this task arrived: `args` are its fields, the handle first. One entry
   * point rather than one method per type, so the connection routes without a switch of its own.
   */
  work_(type: number, args: readonly Uint8Array[]): void {
    const data = args[1]!;
    switch (type) {
      case PacketType.WORK_DATA:
        if (this.spec.collect) (this.#data ??= []).push(data);
        return this.#emit({ type: "data", data });
      case PacketType.WORK_WARNING:
        (this.#warnings ??= []).push(data);
        return this.#emit({ type: "warning", data });
      case PacketType.WORK_STATUS:
        return this.#emit({ type: "status", numerator: Number(utf8(data)), denominator: Number(utf8(args[2]!)) });
    }
    // WORK_COMPLETE, WORK_FAIL or WORK_EXCEPTION: the first one settles the task, done before its listeners run (one
    // that aborts the task's signal, shared with its siblings, must not turn this outcome into an AbortError).
    if (this.#done) return;
    this.#done = true;
    // Packets reach a task by its handle, so it is known here.
    const handle = this.#handle!;
    if (type === PacketType.WORK_COMPLETE) {
      this.#emit({ type: "complete", data });
      this.#settle(undefined, data);
    } else if (type === PacketType.WORK_FAIL) {
      this.#emit({ type: "fail" });
      this.#settle(new JobFailedError(handle, this.#warnings ?? []));
    } else {
      this.#emit({ type: "exception", data });
      this.#settle(new JobExceptionError(handle, data));
    }
  }

  /** @internal The task ends with an error that is not the job's outcome (connection lost, timeout, abort). */
  error_(error: Error): void {
    if (this.#done) return;
    this.#thrown = error;
    this.#settle(error);
  }

  #emit(event: TaskEvent): void {
    const listeners = this.#listeners;
    if (listeners) {
      notify(listeners.get(event.type), event);
      notify(listeners.get("*"), event);
    }
    if (this.#iterators) for (const it of this.#iterators) it.push(event);
  }

  #settle(error: Error | undefined, data?: Uint8Array): void {
    this.#done = true;
    // Settled deferreds serve later `result()` and `created()` calls (a rejection is marked handled).
    const result = (this.#result ??= deferred<Uint8Array>());
    if (error) {
      // Before JOB_CREATED, `created()` fails with the error too; after it, it resolves with the handle.
      (this.#created ??= deferred<string>()).reject(error);
      result.reject(error);
    } else {
      result.resolve(data!);
    }
    if (this.#iterators) for (const it of this.#iterators) it.end(this.#thrown);
    this.#iterators = undefined;
    this.owner?.forget(this);
    this.owner = undefined;
  }
}

/** Calls each listener; one that throws must not cut the connection's packet stream short (other tasks' replies are in it). */
function notify(set: Set<Listener> | undefined, event: TaskEvent): void {
  if (set) for (const l of set) guarded(l, event);
}
