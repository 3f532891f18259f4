// Browser (playground): the preset worker functions, and the evaluator of the function editor.
/**
 * A function's code is one JavaScript expression, evaluated with `new Function`: either a handler
 * `(job) => result`, or `{ partition, aggregate }` for map/reduce. The code sees `GearmanReturn`,
 * `sleep(ms, signal)` and `text(bytes)`.
 * @module
 */
import { GearmanReturn, type JobHandler, type PartitionedFunction, type PartitionFunction, partitioned } from "../src/browser.ts";

/** Options a preset passes to `defineFunction`. */
export interface PresetOptions {
  /** Reducer jobs in flight at once for one map job. */
  maxInFlight?: number;
  /** Milliseconds before the server gives the job to another worker. */
  timeout?: number;
  /** Report a thrown error as WORK_EXCEPTION instead of WORK_WARNING + WORK_FAIL. */
  exceptions?: boolean;
}

/** One worker function of a preset. */
export interface FunctionPreset {
  /** The Gearman function name. */
  name: string;
  /** The editor text: one JavaScript expression. */
  code: string;
  options: PresetOptions;
}

/** A preset: one or more functions, and what to submit to try them. */
export interface Preset {
  id: string;
  label: string;
  description: string;
  functions: FunctionPreset[];
  /** What the client panel fills in for this preset. */
  sample: { functionName: string; payload: string; reducer?: string };
}

const WORDS = "the quick brown fox\njumps over the lazy dog\nGearman hands jobs to workers\n" +
  "workers send results back\nmap reduce splits the work\nand the aggregator sums it up";

/** The presets, in menu order. */
export const PRESETS: readonly Preset[] = [
  {
    id: "reverse",
    label: "reverse: reverses the text",
    description: "Returns the payload reversed.",
    functions: [{ name: "reverse", options: {}, code: '(job) => [...job.text()].reverse().join("")' }],
    sample: { functionName: "reverse", payload: "Hello, Gearman!" },
  },
  {
    id: "uppercase",
    label: "uppercase: upper-cases the text",
    description: "Returns the payload in upper case.",
    functions: [{ name: "uppercase", options: {}, code: "(job) => job.text().toUpperCase()" }],
    sample: { functionName: "uppercase", payload: "make me loud" },
  },
  {
    id: "wordcount",
    label: "word count: map/reduce (wc.map + wc.count)",
    description: "wc.map splits the text into lines, wc.count counts the words of one line, and the aggregator adds the counts.",
    functions: [
      {
        name: "wc.map",
        options: { maxInFlight: 2 },
        code: `({
  // Each non-empty line becomes one wc.count job (at most 2 in flight).
  partition: async (job) => {
    const lines = job.text().split("\\n").filter((line) => line.trim() !== "");
    for (let i = 0; i < lines.length; i++) {
      await job.sendData(lines[i]);
      job.sendStatus(i + 1, lines.length);
    }
  },
  // The reducer results arrive in send order.
  aggregate: (results) => String(results.reduce((sum, r) => sum + Number(text(r)), 0)),
})`,
      },
      {
        name: "wc.count",
        options: {},
        code: `async (job) => {
  await sleep(150, job.signal); // a little work, so the progress bar moves
  return String(job.text().split(/\\s+/).filter(Boolean).length);
}`,
      },
    ],
    sample: { functionName: "wc.map", reducer: "wc.count", payload: WORDS },
  },
  {
    id: "slow",
    label: "slow: reports progress with sendStatus",
    description: "Takes N steps of 300 ms (N = the payload, default 10) and reports each one.",
    functions: [{
      name: "slow",
      options: {},
      code: `async (job) => {
  const steps = Number(job.text()) || 10;
  for (let i = 1; i <= steps; i++) {
    await sleep(300, job.signal);
    job.sendStatus(i, steps);
  }
  return \`done after \${steps} steps\`;
}`,
    }],
    sample: { functionName: "slow", payload: "10" },
  },
  {
    id: "fail",
    label: "fail: returns GearmanReturn.FAIL",
    description: "Fails every job: the client gets WORK_FAIL.",
    functions: [{ name: "fail", options: {}, code: "(job) => GearmanReturn.FAIL" }],
    sample: { functionName: "fail", payload: "anything" },
  },
  {
    id: "throws",
    label: "throws: throws an Error",
    description: "Throws; with exceptions on, the client gets WORK_EXCEPTION with the message.",
    functions: [{
      name: "throws",
      options: { exceptions: true },
      code: "(job) => {\n  throw new Error(`cannot handle ${JSON.stringify(job.text())}`);\n}",
    }],
    sample: { functionName: "throws", payload: "this" },
  },
];

/** The editor's starting text for a new function. */
export const TEMPLATE = `async (job) => {
  // job.text(), job.workload, job.sendStatus(n, d), job.sendData(x), job.sendWarning(x)
  // return a string or Uint8Array, GearmanReturn.FAIL, or throw
  return job.text().length.toString();
}`;

const decoder = new TextDecoder();

/** Reads bytes as UTF-8 (for function code). */
export function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Waits `ms`; rejects when `signal` aborts (the job was taken back or the worker stopped). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** What the editor's code evaluates to. */
export type Definition = JobHandler | PartitionedFunction;

/**
 * Evaluates editor code into a function definition. Throws a SyntaxError or TypeError with a
 * message for the page when the code is not a function or `{ partition }`.
 */
export function compile(code: string): Definition {
  if (code.trim() === "") throw new TypeError("the code is empty: write (job) => result");
  // The code is the user's own, run in their own tab: the point of the editor.
  const factory = new Function("GearmanReturn", "sleep", "text", `"use strict";\nreturn (\n${code}\n);`) as (
    r: typeof GearmanReturn,
    s: typeof sleep,
    t: typeof text,
  ) => unknown;
  const value = factory(GearmanReturn, sleep, text);
  if (typeof value === "function") return value as JobHandler;
  if (value !== null && typeof value === "object" && typeof (value as PartitionFunction).partition === "function") {
    const agg = (value as PartitionFunction).aggregate;
    if (agg !== undefined && typeof agg !== "function") throw new TypeError("aggregate must be a function (results, job) => payload");
    // The editor takes the object as it is; partitioned() brings the map/reduce machinery.
    return partitioned(value as PartitionFunction);
  }
  throw new TypeError("the code must be a function (job) => result, or { partition, aggregate }");
}

/** True for a map/reduce definition. */
export function isPartition(def: Definition): def is PartitionedFunction {
  return typeof def !== "function";
}
