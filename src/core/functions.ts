// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * What a worker function is: a handler, or a partition plus an aggregator (libgearman's
 * `gearman_function_create_partition`), what it may return, and how a definition is checked.
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import type { Payload } from "../protocol/bytes.ts";
import { assertFunctionName } from "../protocol/validate.ts";
import type { Job } from "./job.ts";
import type { MapHost } from "./map-run.ts";
import type { WorkerConnection } from "./worker-connection.ts";

/** Reducer jobs in flight per map job when `maxInFlight` is not given. */
const DEFAULT_MAX_IN_FLIGHT = 64;

/**
 * Brands {@link ReturnCode}: the worker tells a code by identity, so a look-alike `{ name: "SUCCESS" }` is none.
 * A type only (exported with `export type`): there is no such value at run time.
 */
export declare const returnCodeBrand: unique symbol;
/** Brands {@link PartitionedFunction}: only `partitioned()` brings the map/reduce runner. A type only, as above. */
export declare const partitionedBrand: unique symbol;

/** A return code, as libgearman's `gearman_return_t` for define-function callbacks. */
export interface ReturnCode {
  /** SUCCESS, FAIL or ERROR. */
  readonly name: "SUCCESS" | "FAIL" | "ERROR";
  /** Only the {@link GearmanReturn} objects are return codes. */
  readonly [returnCodeBrand]: true;
}

/**
 * Return codes of a worker function. SUCCESS completes the job with an empty result, FAIL fails it
 * at once, ERROR gives it back to the server to run again after a back-off.
 */
export const GearmanReturn: { readonly SUCCESS: ReturnCode; readonly FAIL: ReturnCode; readonly ERROR: ReturnCode } = Object.freeze({
  SUCCESS: Object.freeze({ name: "SUCCESS" }) as ReturnCode,
  FAIL: Object.freeze({ name: "FAIL" }) as ReturnCode,
  ERROR: Object.freeze({ name: "ERROR" }) as ReturnCode,
});

/** What a handler may return: a payload (the result), nothing (empty result) or a return code. */
export type HandlerResult = Payload | void | undefined | ReturnCode;

/** A worker function: gets the job and the context given at definition. */
export type JobHandler<C = unknown> = (job: Job<C>) => HandlerResult | Promise<HandlerResult>;

/** Combines reducer results (in send order) into the payload the client receives. */
export type Aggregator<C = unknown> = (results: Uint8Array[], job: Job<C>) => Payload | Promise<Payload>;

/** A map/reduce function: `partition` calls `job.sendData(chunk)` per part; `aggregate` combines the reducer results. */
export interface PartitionFunction<C = unknown> {
  /** Splits the workload: each `await job.sendData(chunk)` becomes one reducer job. */
  partition: JobHandler<C>;
  /** Combines the reducer results; without it they are concatenated in send order. */
  aggregate?: Aggregator<C> | undefined;
}

/** A {@link PartitionFunction} made by `partitioned()`, which brings the map/reduce machinery with it. */
export interface PartitionedFunction<C = unknown> extends PartitionFunction<C> {
  /** @internal Runs one map job (map-run.ts). */
  readonly run: MapJobRunner;
  /** Only `partitioned()` makes one: a plain `{ partition }` object has no runner. */
  readonly [partitionedBrand]: true;
}

/** Takes one map job on behalf of a worker (map-run.ts; imported here as a type only, so plain workers do not carry it). */
export type MapJobRunner = (host: MapHost, conn: WorkerConnection, job: Job<unknown>, def: FunctionDefinition) => void;

/** Options of `defineFunction`. */
export interface FunctionOptions<C = unknown> {
  /**
   * Milliseconds a job may run (1 to 999 count as 1000): then its signal aborts, nothing more is sent for it, and the
   * worker gives it back to gearmand (CANT_DO), which hands it out again. The worker keeps this timer itself:
   * gearmand 1.1.20's CAN_DO_TIMEOUT loses jobs. The job's concurrency slot stays taken until the handler returns (one
   * that ignores `job.signal` keeps it). A whole number from 0 to 2^31 − 1. @default 0 (no timeout)
   */
  timeout?: number | undefined;
  /** Handed to every call as `job.context`, unchanged. */
  context?: C | undefined;
  /** Report thrown errors with WORK_EXCEPTION (only for clients that ask for exceptions; see README). @default false */
  exceptions?: boolean | undefined;
  /** Reducer jobs in flight at once for one map job; `sendData` waits beyond it. @default 64 */
  maxInFlight?: number | undefined;
}

/** A function definition as stored by the worker. */
export interface FunctionDefinition {
  readonly name: string;
  readonly handler: JobHandler<unknown>;
  readonly aggregate: Aggregator<unknown> | undefined;
  /** Set for a `partitioned()` function: how a job submitted with a reducer runs. */
  readonly run: MapJobRunner | undefined;
  readonly timeout: number;
  readonly context: unknown;
  readonly exceptions: boolean;
  readonly maxInFlight: number;
}

/** Validates what `defineFunction` was given and makes the worker's definition of it. */
export function toDefinition<C>(name: string, fn: JobHandler<C> | PartitionedFunction<C>, options: FunctionOptions<C>): FunctionDefinition {
  assertFunctionName(name);
  const partition = typeof fn === "function" ? undefined : fn;
  const handler = (partition ? partition.partition : fn) as JobHandler<unknown>;
  if (typeof handler !== "function" || (partition && typeof partition.run !== "function")) {
    throw new InvalidArgumentError(`${name} needs a handler, or partitioned({ partition })`);
  }
  const timeout = options.timeout ?? 0;
  if (!Number.isInteger(timeout) || !(timeout >= 0 && timeout < 2 ** 31)) throw new InvalidArgumentError(`timeout of ${name} must be 0 to 2^31-1 whole ms`);
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new InvalidArgumentError(`maxInFlight of ${name} must be a whole number >= 1`);
  return {
    name, handler, timeout: timeout > 0 ? Math.max(timeout, 1000) : 0,
    aggregate: partition?.aggregate as FunctionDefinition["aggregate"], run: partition?.run, context: options.context,
    exceptions: options.exceptions ?? false, maxInFlight,
  };
}

/** What a handler threw, as text; never throws (`String(Object.create(null))` does). */
export function thrownMessage(err: unknown): string {
  try {
    return String(err instanceof Error ? err.message : err);
  } catch {
    return `a thrown ${typeof err}`;
  }
}

/** True for the {@link GearmanReturn} codes. */
export function isReturnCode(v: unknown): v is ReturnCode {
  return v === GearmanReturn.SUCCESS || v === GearmanReturn.FAIL || v === GearmanReturn.ERROR;
}

/** True for a promise or any other object with a `then` method, as `await` sees it. */
export function isThenable(value: unknown): value is PromiseLike<HandlerResult> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === "function";
}
