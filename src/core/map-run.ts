// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * One map job: every `sendData` chunk becomes a foreground reducer job on the worker's own client,
 * submitted as it is produced, at most `maxInFlight` at once. Results are kept in send order for
 * the aggregator. The first failure ends everything: nothing more is submitted, late results are
 * dropped, and the caller fails the job at once (libgearman waits for the next loop).
 * @module
 */
import { concatBytes, toBytes } from "../protocol/bytes.ts";
import type { BaseClient } from "./client.ts";
import { deferred, type Deferred } from "./events.ts";
import { type FunctionDefinition, GearmanReturn, type ReturnCode, thrownMessage } from "./functions.ts";
import type { Job } from "./job.ts";

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
