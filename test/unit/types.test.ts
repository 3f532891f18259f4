// Type tests of the public API: checked by `tsc -p tsconfig.json` (`npm run check`), which includes test/. Each
// `@ts-expect-error` line is something a user must not be able to compile; the tests run no I/O.
import { describe, expectTypeOf, it } from "vitest";
import {
  AbortError, type Aggregator, ClosedError, type ClientOptions, ConnectionError, ErrorCode, type ErrorCodeValue, GearmanError,
  GearmanReturn, type HandlerResult, type Job, JobExceptionError, JobFailedError, type JobHandler, type JobStatus,
  type PartitionedFunction, partitioned, type Payload, PolicyError, type PolicyCloseCode, ProtocolError, type ProtocolErrorReason,
  type RequestOptions, type ReturnCode, ServerError, type StopOptions, type SubmitOptions, type Task, type TaskEvent,
  type TaskEventOf, type TaskEventType, TimeoutError, type UniqueJobStatus, type WorkerOptions,
} from "../../src/node.ts";
import type { Client, Worker } from "../../src/node.ts";
import type { BridgeLimits, BridgeLogEntry, BridgeOptions, Principal, startBridge, TokenClaims } from "../../bridge/bridge.ts";
import type { JobServerOptions, ResolvedServerOptions, RunningServer, startServer, StartServerOptions } from "../../src/server/node.ts";

/** A stand-in value of a type, for code that is only type-checked: the callbacks given to `typeOnly` never run. */
const value = <T>(): T => undefined as T;
function typeOnly(_body: () => unknown): void {}

describe("types: task events", () => {
  it("narrows each listener to its event, and '*' to every event", () => {
    typeOnly(() => {
      const task = value<Task>();
      task.on("created", (e) => expectTypeOf(e).toEqualTypeOf<{ readonly type: "created"; readonly handle: string }>());
      task.on("data", (e) => expectTypeOf(e.data).toEqualTypeOf<Uint8Array>());
      task.on("warning", (e) => expectTypeOf(e).toEqualTypeOf<TaskEventOf<"warning">>());
      task.on("status", (e) => {
        expectTypeOf(e.numerator).toBeNumber();
        expectTypeOf(e.denominator).toBeNumber();
      });
      task.on("complete", (e) => expectTypeOf(e.data).toEqualTypeOf<Uint8Array>());
      task.on("fail", (e) => expectTypeOf(e).toEqualTypeOf<{ readonly type: "fail" }>());
      task.on("exception", (e) => expectTypeOf(e.data).toEqualTypeOf<Uint8Array>());
      task.on("*", (e) => expectTypeOf(e).toEqualTypeOf<TaskEvent>());
      // A type chosen at run time gets the union of its events.
      const t = value<"data" | "warning">();
      task.on(t, (e) => expectTypeOf(e).toEqualTypeOf<TaskEventOf<"data" | "warning">>());
      // A listener of every event serves any one type.
      const all = (_e: TaskEvent): void => {};
      task.on("status", all);
      expectTypeOf(task.on("data", () => {})).toEqualTypeOf<() => void>();

      // @ts-expect-error -- not an event type
      task.on("progress", () => {});
      // @ts-expect-error -- a status listener cannot take data events
      task.on("data", (_e: TaskEventOf<"status">) => {});
      // @ts-expect-error -- fail carries no payload
      task.on("fail", (e) => e.data);
      // @ts-expect-error -- "*" delivers every event, not only data ones
      task.on<"data">("*", (e) => e.data);
    });
  });

  it("iterates TaskEvent, narrowed by type", () => {
    typeOnly(async () => {
      for await (const ev of value<Task>()) {
        expectTypeOf(ev).toEqualTypeOf<TaskEvent>();
        if (ev.type === "status") expectTypeOf(ev).toEqualTypeOf<TaskEventOf<"status">>();
        // @ts-expect-error -- only some events carry data
        ev.data;
      }
    });
    expectTypeOf<TaskEventType>().toEqualTypeOf<"created" | "data" | "warning" | "status" | "complete" | "fail" | "exception">();
    expectTypeOf<TaskEventOf<"complete">>().toEqualTypeOf<{ readonly type: "complete"; readonly data: Uint8Array }>();
  });

  it("task and client results", () => {
    const task = value<Task>;
    expectTypeOf(task).returns.toHaveProperty("result").returns.toEqualTypeOf<Promise<Uint8Array>>();
    expectTypeOf(task).returns.toHaveProperty("output").returns.toEqualTypeOf<Promise<Uint8Array>>();
    expectTypeOf(task).returns.toHaveProperty("created").returns.toEqualTypeOf<Promise<string>>();
    expectTypeOf(task).returns.toHaveProperty("handle").toEqualTypeOf<string | undefined>();
    expectTypeOf<Client["submit"]>().returns.toEqualTypeOf<Task>();
    expectTypeOf<Client["execute"]>().returns.toEqualTypeOf<Promise<Uint8Array>>();
    expectTypeOf<Client["submitBackground"]>().returns.toEqualTypeOf<Promise<string>>();
    expectTypeOf<Client["getStatus"]>().returns.toEqualTypeOf<Promise<JobStatus>>();
    expectTypeOf<Client["getStatusUnique"]>().returns.toEqualTypeOf<Promise<UniqueJobStatus>>();
    expectTypeOf<Client["execute"]>().parameter(1).toEqualTypeOf<Payload>();
  });
});

describe("types: worker functions", () => {
  interface Db {
    query(sql: string): number;
  }

  it("types job.context from { context } without annotations", () => {
    typeOnly(() => {
      const worker = value<Worker>();
      const db = value<Db>();
      worker.defineFunction("a", (job) => {
        expectTypeOf(job.context).toEqualTypeOf<Db>();
        return String(job.context.query("x"));
      }, { context: db, timeout: 5000 });
      worker.defineFunction("b", (job) => void expectTypeOf(job.context).toBeUnknown());
      worker.defineFunction("c", (job: Job<Db>) => String(job.context.query("x")), { context: db });
      worker.defineFunction("d", partitioned<Db>({ partition: (job) => void job.context.query("x") }), { context: db });
      expectTypeOf(worker.defineFunction("e", () => {})).toEqualTypeOf<Worker>();

      // @ts-expect-error -- the handler needs a Db, and none is given: job.context would be undefined
      worker.defineFunction("f", (job: Job<Db>) => String(job.context.query("x")));
      // @ts-expect-error -- likewise with other options
      worker.defineFunction("g", (job: Job<Db>) => String(job.context.query("x")), { timeout: 5000 });
      // @ts-expect-error -- a context of another type
      worker.defineFunction("h", (job: Job<Db>) => String(job.context.query("x")), { context: 42 });
      // @ts-expect-error -- job.context is unknown without { context }
      worker.defineFunction("i", (job) => String(job.context.query("x")));
      // @ts-expect-error -- a partitioned function that needs a context, without one
      worker.defineFunction("j", partitioned<Db>({ partition: (job) => void job.context.query("x") }));
    });
  });

  it("accepts payloads, nothing and return codes as results, and nothing else", () => {
    typeOnly(() => {
      const worker = value<Worker>();
      worker.defineFunction("string", (job) => job.text());
      worker.defineFunction("bytes", (job) => job.workload);
      worker.defineFunction("buffer", () => Buffer.from("x"));
      worker.defineFunction("void", () => {});
      worker.defineFunction("undefined", () => undefined);
      worker.defineFunction("codes", (job) => (job.text() === "" ? GearmanReturn.FAIL : job.text() === "x" ? GearmanReturn.ERROR : GearmanReturn.SUCCESS));
      worker.defineFunction("async", async (job) => {
        await job.sendData("part");
        return job.text() ? "done" : GearmanReturn.FAIL;
      });

      // @ts-expect-error -- a number fails the job at run time (WORK_FAIL): say String(n)
      worker.defineFunction("number", () => 42);
      // @ts-expect-error -- an object fails the job at run time: say JSON.stringify(o)
      worker.defineFunction("object", () => ({ ok: true }));
      // @ts-expect-error -- null is not "nothing"
      worker.defineFunction("null", () => null);
      // @ts-expect-error -- nor once awaited
      worker.defineFunction("async-number", () => Promise.resolve(42));
      // @ts-expect-error -- a look-alike is not a return code (the worker compares identity): it would fail the job
      worker.defineFunction("look-alike", () => ({ name: "SUCCESS" as const }));
    });
    expectTypeOf<HandlerResult>().toEqualTypeOf<Payload | void | undefined | ReturnCode>();
    expectTypeOf<JobHandler<string>>().parameter(0).toEqualTypeOf<Job<string>>();
    expectTypeOf(GearmanReturn.ERROR).toEqualTypeOf<ReturnCode>();
    expectTypeOf(GearmanReturn.SUCCESS.name).toEqualTypeOf<"SUCCESS" | "FAIL" | "ERROR">();
  });

  it("partitioned({ partition, aggregate })", () => {
    const fn = partitioned({
      partition: async (job) => {
        for (const w of job.text().split(" ")) await job.sendData(w);
      },
      aggregate: (results, job) => {
        expectTypeOf(results).toEqualTypeOf<Uint8Array[]>();
        expectTypeOf(job).toEqualTypeOf<Job<unknown>>();
        return results.length ? "some" : new Uint8Array(0);
      },
    });
    expectTypeOf(fn).toEqualTypeOf<PartitionedFunction<unknown>>();
    expectTypeOf<Aggregator<number>>().returns.toEqualTypeOf<Payload | Promise<Payload>>();
    typeOnly(() => {
      const worker = value<Worker>();
      worker.defineFunction("words", fn);
      // @ts-expect-error -- an aggregate result must be a payload
      partitioned({ partition: () => {}, aggregate: (results) => results.length });
      // @ts-expect-error -- a plain { partition } object lacks the map/reduce runner (it throws at run time): use partitioned()
      worker.defineFunction("plain", { partition: () => {} });
    });
  });
});

describe("types: errors", () => {
  it("narrows with instanceof to each error's fields", () => {
    const err = value<unknown>();
    if (err instanceof GearmanError) expectTypeOf(err.code).toEqualTypeOf<ErrorCodeValue>();
    if (err instanceof PolicyError) {
      expectTypeOf(err.closeCode).toEqualTypeOf<PolicyCloseCode>();
      expectTypeOf(err.reason).toBeString();
    }
    if (err instanceof ServerError) expectTypeOf(err).toHaveProperty("serverCode").toBeString();
    if (err instanceof ProtocolError) expectTypeOf(err.reason).toEqualTypeOf<ProtocolErrorReason>();
    if (err instanceof JobFailedError) expectTypeOf(err.warnings).toEqualTypeOf<readonly Uint8Array[]>();
    if (err instanceof JobExceptionError) expectTypeOf(err.text).toBeString();
    if (err instanceof ConnectionError) expectTypeOf(err.server).toEqualTypeOf<string | undefined>();
    expectTypeOf(new TimeoutError("t")).toExtend<GearmanError>();
    expectTypeOf(new AbortError("a")).toExtend<Error>();
    expectTypeOf(new ClosedError()).toExtend<GearmanError>();
  });

  it("codes are a union of literals, and comparisons narrow", () => {
    expectTypeOf<ErrorCodeValue>().toEqualTypeOf<
      | "GEARMAN_CONNECTION" | "GEARMAN_PROTOCOL" | "GEARMAN_SERVER_ERROR" | "GEARMAN_JOB_FAILED" | "GEARMAN_JOB_EXCEPTION"
      | "GEARMAN_TIMEOUT" | "GEARMAN_ABORTED" | "GEARMAN_INVALID_ARGUMENT" | "GEARMAN_CLOSED" | "GEARMAN_POLICY_DENIED"
    >();
    expectTypeOf(ErrorCode.TIMEOUT).toEqualTypeOf<"GEARMAN_TIMEOUT">();
    expectTypeOf<PolicyCloseCode>().toEqualTypeOf<1002 | 1003 | 1008 | 1009 | 4401>();
    typeOnly(() => {
      const err = value<GearmanError>();
      if (err.code === ErrorCode.POLICY) expectTypeOf(err.code).toEqualTypeOf<"GEARMAN_POLICY_DENIED">();
      // @ts-expect-error -- a misspelt code is caught
      if (err.code === "GEARMAN_TIMEOUTS") return;
      // @ts-expect-error -- not a policy close code (4401 is)
      if (value<PolicyError>().closeCode === 4001) return;
      // @ts-expect-error -- the codes are constants
      ErrorCode.TIMEOUT = "x";
    });
  });
});

describe("types: options", () => {
  it("catches misspelt options", () => {
    typeOnly(() => {
      const client = value<Client>();
      const worker = value<Worker>();
      const opts = (o: ClientOptions): ClientOptions => o;
      const wopts = (o: WorkerOptions): WorkerOptions => o;
      // @ts-expect-error -- a worker option, on a client
      opts({ servers: ["127.0.0.1:4730"], concurrency: 4 });
      // @ts-expect-error -- misspelt
      wopts({ servers: ["127.0.0.1:4730"], concurency: 4 });
      // @ts-expect-error -- misspelt
      client.submit("f", "x", { prio: "high" });
      // @ts-expect-error -- not a priority
      client.submit("f", "x", { priority: "urgent" });
      // @ts-expect-error -- submitAt has no priority (SUBMIT_JOB_EPOCH has one queue)
      void client.submitAt("f", "x", new Date(), { priority: "high" });
      // @ts-expect-error -- misspelt
      client.echo("x", { timout: 5 });
      // @ts-expect-error -- misspelt
      worker.defineFunction("f", () => "x", { timout: 5 });
      // @ts-expect-error -- misspelt
      void worker.stop({ gracefull: false });
      // @ts-expect-error -- servers is required
      opts({});
    });
  });

  it("accepts readonly server lists and options forwarded as `T | undefined`", () => {
    const servers = ["127.0.0.1:4730", "ws://127.0.0.1:8080/gearman"] as const;
    expectTypeOf({ servers }).toExtend<ClientOptions>();
    expectTypeOf({ servers, concurrency: 2, pollInterval: 1000, clientId: "w1" }).toExtend<WorkerOptions>();
    expectTypeOf<SubmitOptions>().toExtend<RequestOptions>();
    expectTypeOf<SubmitOptions>().toEqualTypeOf<{
      signal?: AbortSignal | undefined;
      timeout?: number | undefined;
      priority?: "high" | "normal" | "low" | undefined;
      unique?: string | undefined;
      collect?: boolean | undefined;
    }>();
    expectTypeOf<StopOptions>().toEqualTypeOf<{ graceful?: boolean | undefined; timeout?: number | undefined }>();
    // `T | undefined` options under exactOptionalPropertyTypes are compiled by strict-consumer.test.ts.
  });
});

describe("types: gearman-sdk/bridge and gearman-sdk/server", () => {
  it("startBridge options and log entries", () => {
    expectTypeOf<typeof startBridge>().parameter(0).toEqualTypeOf<BridgeOptions>();
    expectTypeOf<BridgeOptions["upstream"]>().toBeString();
    expectTypeOf<Principal["roles"]>().toEqualTypeOf<readonly ("client" | "worker")[]>();
    expectTypeOf<TokenClaims>().toHaveProperty("sub").toBeString();
    const log = (e: BridgeLogEntry): void => {
      if (e.type === "rejected") {
        expectTypeOf(e.status).toBeNumber();
        // @ts-expect-error -- only connection entries have durations
        e.durationMs;
      } else if (e.type === "packet") {
        expectTypeOf(e.function).toEqualTypeOf<string | undefined>();
        expectTypeOf(e.direction).toEqualTypeOf<"in" | "out">();
      } else {
        expectTypeOf(e.type).toEqualTypeOf<"connection">();
        expectTypeOf(e.packetsIn).toEqualTypeOf<Record<string, number>>();
      }
    };
    const ok: BridgeOptions = {
      upstream: "127.0.0.1:4730", logger: log, limits: { maxConnections: 10 },
      policy: { origins: ["https://app.example"] as const, tokens: { t: { id: "web", roles: ["client"] as const, submit: ["resize"] } } },
    };
    expectTypeOf(ok).toEqualTypeOf<BridgeOptions>();
    // @ts-expect-error -- misspelt limit
    const typo: BridgeLimits = { maxConections: 10 };
    // @ts-expect-error -- a policy is required: there is no open default
    const open: BridgeOptions = { upstream: "127.0.0.1:4730" };
    // @ts-expect-error -- not a role
    const role: Principal = { id: "x", roles: ["admin"] };
    void [typo, open, role];
  });

  it("startServer options and result", () => {
    expectTypeOf<typeof startServer>().parameter(0).toEqualTypeOf<StartServerOptions | undefined>();
    expectTypeOf<typeof startServer>().returns.toEqualTypeOf<Promise<RunningServer>>();
    expectTypeOf<RunningServer["address"]>().toBeString();
    expectTypeOf<StartServerOptions>().toExtend<JobServerOptions>();
    expectTypeOf<ResolvedServerOptions["name"]>().toEqualTypeOf<string>();
    expectTypeOf<ResolvedServerOptions["onError"]>().toEqualTypeOf<(error: unknown) => void>();
    // @ts-expect-error -- misspelt
    const typo: StartServerOptions = { port: 0, jobRetry: 3 };
    void typo;
  });
});
