// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Map/reduce on the worker side, opt-in through {@link partitioned} so that workers without it do not carry it (the
 * browser bundle). One map job: every `sendData` chunk becomes a foreground reducer job on a client of its own (see
 * {@link ReducerPool}), submitted as it is produced, at most `maxInFlight` at once. Results are kept in send order for the aggregator. The
 * first failure ends everything: nothing more is submitted, late results are dropped, and the job fails at once
 * (libgearman waits for the next loop).
 * @module
 */
import { concatBytes, toBytes } from "../protocol/bytes.ts";
import * as PacketType from "../protocol/packet-numbers.ts";
import type { PacketArg } from "../protocol/packet.ts";
import { BaseClient } from "./client.ts";
import { deferred, type Deferred } from "./events.ts";
import {
  type FunctionDefinition, GearmanReturn, type MapJobRunner, type PartitionedFunction, type PartitionFunction, type ReturnCode,
  thrownMessage,
} from "./functions.ts";
import { Job } from "./job.ts";
import type { ResolvedWorkerOptions } from "./options.ts";
import type { WorkerConnection } from "./worker-connection.ts";

/** What a map job needs of its worker (its private parts, handed over by the worker only). */
export interface MapHost {
  /** The worker's options (servers, connector, logger, concurrency, libgearmanCompatible, tap). */
  readonly options: ResolvedWorkerOptions;
  /** True once stop() was called: no queued map job starts then. */
  stopping(): boolean;
  /** The worker's reducer clients, made on first use; the worker closes them on stop(). */
  reducer?: ReducerPool | undefined;
  /** Map jobs running (each waits on its reducer jobs, mostly): at most `concurrency`, counted apart from plain jobs. */
  mapping: number;
  /** Map jobs assigned and waiting for one of those places. */
  readonly queue: { readonly job: Job<unknown>; readonly start: () => Promise<void> }[];
  /** A map job ended: the worker may take more jobs, or finish stopping. */
  release(): void;
  /** Sends the job's terminal packet (after a WORK_WARNING when `warning` is given) and frees it. */
  finish(conn: WorkerConnection, job: Job<unknown>, type: number, args: readonly PacketArg[], warning?: string): void;
  /** Gives the job back to gearmand, as for a handler that returned ERROR. */
  requeue(conn: WorkerConnection, job: Job<unknown>, def: FunctionDefinition): void;
  /** The job's timeout passed: as for a plain job that timed out. */
  timedOut(conn: WorkerConnection, job: Job<unknown>, def: FunctionDefinition): void;
  /** The worker's armed timers, which stop() clears: a map job's timeout timer goes in while it is armed. */
  readonly timers: Set<ReturnType<typeof setTimeout>>;
}

/**
 * The reducer clients of one worker. Each running map job has its own, as libgearman's internal client: a map job
 * that ends with reducer jobs still out (a failure, its timeout, ERROR, its connection lost, stop) closes it, and
 * gearmand then drops those of them no worker has taken yet, instead of running them for nobody. A client whose
 * map job ended with none out is kept for the next one.
 */
export class ReducerPool {
  #make: () => BaseClient;
  #idle: BaseClient[] = [];
  #all = new Set<BaseClient>();

  constructor(make: () => BaseClient) {
    this.#make = make;
  }

  /** A client for one map job. */
  take(): BaseClient {
    const client = this.#idle.pop() ?? this.#make();
    this.#all.add(client);
    return client;
  }

  /** The map job ended: keep its client when `reuse`, else close it. */
  give(client: BaseClient, reuse: boolean): void {
    if (reuse) this.#idle.push(client);
    else void this.#close(client);
  }

  /** Closes every client (stop): reducer jobs still out reject, which fails their map jobs. */
  async close(): Promise<void> {
    this.#idle = [];
    await Promise.all([...this.#all].map((c) => this.#close(c)));
  }

  async #close(client: BaseClient): Promise<void> {
    this.#all.delete(client);
    await client.close();
  }
}

/**
 * A map/reduce function for `defineFunction`, as libgearman's `gearman_function_create_partition`: in a job
 * submitted with a reducer, each `await job.sendData(chunk)` of `partition` becomes one reducer job, and
 * `aggregate` combines their results (in send order) into the job's result.
 * @example
 * ```ts
 * worker.defineFunction("words", partitioned({
 *   partition: async (job) => { for (const w of job.text().split(" ")) await job.sendData(w); },
 *   aggregate: (results) => results.map((r) => new TextDecoder().decode(r)).join(","),
 * }));
 * ```
 */
export function partitioned<C = unknown>(fn: PartitionFunction<C>): PartitionedFunction<C> {
  return { partition: fn.partition, aggregate: fn.aggregate, run: runMapJob } as PartitionedFunction<C>;
}

/**
 * Takes one map job assigned on `conn`: it starts once fewer than `concurrency` map jobs run. They are counted apart
 * from plain jobs and take none of their slots, so one worker can serve both mapper and reducer.
 */
const runMapJob: MapJobRunner = (host, conn, job, def) => {
  const o = host.options;
  let run: MapRun | undefined;
  const mapJob = new Job(job, def.context, {
    send: (type, args) => conn.send(type, args),
    late: (what, handle) => o.logger.debug?.(`${what} for map job ${handle} after it ended was ignored`),
    reduce: (chunk) => run!.add(chunk),
  });
  conn.jobs.set(job.handle, { job: mapJob, def });
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Taken back (timeout, ERROR, its connection lost, removeFunction, stop) or failed: the reducer jobs still out are
  // waited for no more, and the job's place goes to the next one.
  mapJob.signal.addEventListener("abort", () => {
    clearTimeout(timer);
    host.timers.delete(timer!);
    run?.fail(mapJob.signal.reason as Error);
  }, { once: true });
  const start = async (): Promise<void> => {
    const fail = (error: Error): void => {
      if (mapJob.ended) return; // timed out or taken back: nothing more goes out for it
      o.logger.debug?.(`map job ${job.handle} failed: ${error.message}`);
      host.finish(conn, mapJob, PacketType.WORK_FAIL, [job.handle], error.message);
      mapJob.abort_(error.message); // the partition function should stop; what it sends now is dropped
    };
    const pool = (host.reducer ??= new ReducerPool(() => new BaseClient({
      servers: o.servers, connector: o.connector, logger: o.logger, libgearmanCompatible: o.libgearmanCompatible, tap: o.tap,
      maxPacketSize: o.maxPacketSize, reconnectDelay: o.reconnectDelay, maxReconnectDelay: o.maxReconnectDelay,
    })));
    // As for plain jobs, the timeout counts from the start of the handler.
    if (def.timeout > 0) host.timers.add(timer = setTimeout(() => (host.timers.delete(timer!), host.timedOut(conn, mapJob, def)), def.timeout));
    const client = pool.take();
    run = new MapRun(client, job.reducer, def.maxInFlight, fail);
    const out = await run.execute(mapJob, def, o.libgearmanCompatible);
    clearTimeout(timer);
    host.timers.delete(timer!);
    if (out === GearmanReturn.ERROR) host.requeue(conn, mapJob, def);
    else if (out instanceof Uint8Array) host.finish(conn, mapJob, PacketType.WORK_COMPLETE, [job.handle, out]);
    pool.give(client, run.idle);
  };
  host.queue.push({ job: mapJob, start });
  startMapJobs(host);
};

function startMapJobs(host: MapHost): void {
  while (host.mapping < host.options.concurrency && !host.stopping() && host.queue.length > 0) {
    const { job, start } = host.queue.shift()!;
    if (job.ended) continue;
    host.mapping++;
    void start().finally(() => {
      host.mapping--;
      startMapJobs(host);
      host.release();
    });
  }
}

/** Runs the reduce side of one map job. */
export class MapRun {
  #client: BaseClient;
  #reducer: string;
  #maxInFlight: number;
  #results: (Uint8Array | undefined)[] = [];
  #inFlight = 0;
  #capacity: Deferred<void> | undefined;
  #idle: Deferred<void> | undefined;
  #failure: Error | undefined;
  #onFailure: (error: Error) => void;

  constructor(client: BaseClient, reducer: string, maxInFlight: number, onFailure: (error: Error) => void) {
    this.#client = client;
    this.#reducer = reducer;
    this.#maxInFlight = maxInFlight;
    this.#onFailure = onFailure;
  }

  /** The first failure, if any. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** True when no reducer job of this run is out (one that was out at a failure stays out). */
  get idle(): boolean {
    return this.#inFlight === 0;
  }

  /**
   * Runs the partition function, then the aggregator: resolves with the payload to complete the job with, with
   * ERROR when the partition function returned it, or with nothing when the run failed or the job ended.
   */
  async execute(job: Job<unknown>, def: FunctionDefinition, reverse: boolean): Promise<Uint8Array | ReturnCode | undefined> {
    try {
      const outcome = await def.handler(job);
      if (job.ended) return;
      if (outcome === GearmanReturn.ERROR) return outcome;
      if (outcome === GearmanReturn.FAIL) throw new Error(`the partition function of ${def.name} returned FAIL`);
      if (typeof outcome === "string" || outcome instanceof Uint8Array) await this.add(toBytes(outcome));
      const results = await this.results();
      if (!results || job.ended) return;
      if (reverse) results.reverse();
      return def.aggregate ? toBytes(await def.aggregate(results, job)) : concatBytes(results);
    } catch (err) {
      this.fail(new Error(thrownMessage(err)));
    }
  }

  /** Submits one chunk to the reducer; waits while `maxInFlight` jobs are out. */
  async add(chunk: Uint8Array): Promise<void> {
    while (this.#inFlight >= this.#maxInFlight && !this.#failure) {
      this.#capacity ??= deferred<void>();
      await this.#capacity.promise;
    }
    if (this.#failure) return;
    const index = this.#results.length;
    this.#results.push(undefined);
    this.#inFlight++;
    this.#client.execute(this.#reducer, chunk).then(
      (result) => {
        if (this.#failure) return;
        this.#results[index] = result;
        this.#settled();
      },
      (error: Error) => this.fail(error),
    );
  }

  /** Fails the run (idempotent); the first failure wins. */
  fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#results = [];
    this.#capacity?.resolve();
    this.#idle?.resolve();
    this.#onFailure(error);
  }

  /** Waits for every submitted reducer job; returns the results in send order, or undefined after a failure. */
  async results(): Promise<Uint8Array[] | undefined> {
    while (this.#inFlight > 0 && !this.#failure) {
      this.#idle ??= deferred<void>();
      await this.#idle.promise;
    }
    return this.#failure ? undefined : (this.#results as Uint8Array[]);
  }

  #settled(): void {
    this.#inFlight--;
    const cap = this.#capacity;
    this.#capacity = undefined;
    cap?.resolve();
    if (this.#inFlight === 0) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle?.resolve();
    }
  }
}
