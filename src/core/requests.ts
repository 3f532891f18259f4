// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * What the client's requests take (time limit, cancellation, submit options) and what its status queries answer.
 * @module
 */
import type { Priority } from "./task.ts";

/**
 * Time limit and cancellation of one request: a submit, a status query, an echo. Without either the request waits
 * without limit, as libgearman does.
 */
export interface RequestOptions {
  /** Aborting rejects with `AbortError` (a submitted job keeps running on the server). */
  signal?: AbortSignal | undefined;
  /**
   * Milliseconds before it rejects with `TimeoutError` (a submitted job keeps running on the server). Must be
   * a number > 0, or the call throws `InvalidArgumentError`; `Infinity` (or 2^31 ms and more) is no limit. @default no limit
   */
  timeout?: number | undefined;
}

/** Options of one submit. */
export interface SubmitOptions extends RequestOptions {
  /** Queue: high, normal or low. @default "normal" */
  priority?: Priority | undefined;
  /**
   * Unique id (≤ 63 bytes, no NUL): submits with the same function and unique share one job. Background
   * submits without one get a random one, so that gearmand's persistent queue keeps every job.
   */
  unique?: string | undefined;
  /** Keep WORK_DATA payloads for `task.output()`; turn off for long streams read by events. @default true */
  collect?: boolean | undefined;
}

/** Answer to GET_STATUS. */
export interface JobStatus {
  /** Job handle. */
  handle: string;
  /** The server knows the job (queued or running). */
  known: boolean;
  /** A worker holds the job. */
  running: boolean;
  /** Last WORK_STATUS numerator (0 when none). */
  numerator: number;
  /** Last WORK_STATUS denominator (0 when none). */
  denominator: number;
}

/** Answer to GET_STATUS_UNIQUE. */
export interface UniqueJobStatus extends Omit<JobStatus, "handle"> {
  /** The unique asked about. */
  unique: string;
  /** Foreground clients waiting for the job. */
  waiting: number;
}
