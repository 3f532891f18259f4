// Node: interop with PHP (pecl gearman on libgearman) and pure-Perl Gearman::Client / Gearman::Worker peers (issues #2, #3).
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { JobExceptionError, JobFailedError, type TaskEvent } from "../../src/node.ts";
import { type Gearmand, serverKind, startGearmand } from "../support/gearmand.ts";
import { interopHandler, runPeer, startPeer, stopPeers, waitForWorkers } from "../support/interop-peers.ts";
import { fname, Resources, text } from "./helpers.ts";

const PHP_CLIENT = fileURLToPath(new URL("../interop/php/client.php", import.meta.url));
const PHP_WORKER = fileURLToPath(new URL("../interop/php/worker.php", import.meta.url));
const PERL_CLIENT = fileURLToPath(new URL("../interop/perl/client.pl", import.meta.url));
const PERL_WORKER = fileURLToPath(new URL("../interop/perl/worker.pl", import.meta.url));

let gearmand: Gearmand;
const res = new Resources();

beforeAll(async () => {
  gearmand = await startGearmand({ args: ["--threads=0"] });
  const php = await runPeer("php", ["-r", 'echo class_exists("GearmanClient") ? "ok" : "missing";']).catch(() => undefined);
  if (php?.stdout !== "ok") throw new Error("php with the gearman extension is missing: sudo apt-get install -y php-cli php-gearman");
  const perl = await runPeer("perl", ["-MGearman::Client", "-MGearman::Worker", "-MJSON::PP", "-e", "print 'ok'"]).catch(() => undefined);
  if (perl?.stdout !== "ok") throw new Error("Perl Gearman modules are missing: sudo apt-get install -y libgearman-client-perl");
});

afterEach(() => res.cleanup());

afterAll(async () => {
  await stopPeers();
  await gearmand?.stop();
});

interface ScriptOutput {
  code: number | null;
  stderr: string;
  json: Record<string, unknown>;
}

async function script(cmd: "php" | "perl", args: string[]): Promise<ScriptOutput> {
  const run = await runPeer(cmd, args, { timeout: 20_000 });
  if (run.timedOut) throw new Error(`${cmd} ${args.join(" ")} hung: ${run.stdout}${run.stderr}`);
  const line = run.stdout.trim().split("\n").pop() ?? "";
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(line) as Record<string, unknown>;
  } catch { /* no JSON: the script died; callers look at code and stderr */ }
  return { code: run.code, stderr: run.stderr, json };
}

const phpClient = (mode: "do" | "task", fn: string, data: string, unique?: string): Promise<ScriptOutput> =>
  script("php", [PHP_CLIENT, gearmand.host, String(gearmand.port), mode, fn, data, ...(unique ? [unique] : [])]);

const perlClient = (fn: string, data: string, exceptions = false): Promise<ScriptOutput> =>
  script("perl", [PERL_CLIENT, gearmand.host, String(gearmand.port), fn, data, ...(exceptions ? ["exceptions"] : [])]);

function eventLines(task: { on: (type: "*", l: (e: TaskEvent) => void) => unknown }): string[] {
  const lines: string[] = [];
  task.on("*", (e) => {
    if (e.type === "data" || e.type === "warning" || e.type === "complete" || e.type === "exception") lines.push(`${e.type} ${text(e.data)}`);
    else if (e.type === "status") lines.push(`status ${e.numerator}/${e.denominator}`);
    else if (e.type !== "created") lines.push(e.type);
  });
  return lines;
}

describe("PHP GearmanClient against our worker", () => {
  const fn = fname("php_ts");
  const exc = fname("php_ts_exc");
  const block = new Resources();
  beforeAll(async () => {
    const w = block.worker({ servers: [gearmand.address], concurrency: 2 });
    w.defineFunction(fn, interopHandler());
    w.defineFunction(exc, () => {
      throw new Error("ts exception");
    }, { exceptions: true });
    await w.start();
  });
  afterAll(() => block.cleanup());

  it("doNormal gets the result, WORK_DATA included", async () => {
    expect((await phpClient("do", fn, "hello")).json).toMatchObject({ ret: "SUCCESS", result: "HELLO" });
    expect((await phpClient("do", fn, "DATA")).json).toMatchObject({ ret: "SUCCESS", result: "d1done" });
    expect((await phpClient("do", fn, "EMPTY")).json).toMatchObject({ ret: "SUCCESS", result: "" });
  });

  it("doNormal sends libgearman's generated UUID as the unique, or the one given", async () => {
    expect((await phpClient("do", fn, "UNIQUE")).json.result).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect((await phpClient("do", fn, "UNIQUE", "php-u1")).json.result).toBe("php-u1");
  });

  it("FAIL gives GEARMAN_WORK_FAIL; a thrown error a warning then FAIL", async () => {
    expect((await phpClient("do", fn, "FAIL")).json).toMatchObject({ ret: "WORK_FAIL", result: "" });
    expect((await phpClient("task", fn, "THROW")).json).toMatchObject({ ret: "WORK_FAIL", events: ["created", "warning ts boom", "fail"] });
  });

  it("warning and status reach the callbacks", async () => {
    expect((await phpClient("task", fn, "WARN")).json).toMatchObject({
      ret: "SUCCESS", events: ["created", "warning careful", "status 1/2", "complete warned"],
    });
  });

  it("GearmanReturn.ERROR: the second attempt completes", async () => {
    expect((await phpClient("do", fn, "ERROR_ONCE")).json).toMatchObject({ ret: "SUCCESS", result: "attempt=2" });
  });

  it("exceptions: true reaches PHP as WORK_EXCEPTION (pecl gearman 2.x asks for exceptions in addServer)", async () => {
    expect((await phpClient("do", exc, "x")).json).toMatchObject({ ret: "WORK_EXCEPTION" });
    expect((await phpClient("task", exc, "x")).json).toMatchObject({ ret: "WORK_EXCEPTION", events: ["created", "exception ts exception"] });
  });
});

describe("our client against a PHP GearmanWorker", () => {
  const fn = fname("php_w");
  beforeAll(async () => {
    startPeer("php", [PHP_WORKER, gearmand.host, String(gearmand.port), fn]);
    await waitForWorkers(gearmand.address, fn);
  });

  it.each([true, false])("results, data, warning and status (exceptions: %s)", async (exceptions) => {
    const c = res.client({ servers: [gearmand.address], exceptions });
    expect(text(await c.execute(fn, "hello"))).toBe("HELLO");
    expect(text(await c.execute(fn, "DATA"))).toBe("d1done");
    const task = c.submit(fn, "WARN");
    const events = eventLines(task);
    expect(text(await task.result())).toBe("warned");
    expect(events).toEqual(["warning careful", "status 1/2", "complete warned"]);
  });

  it("the unique reaches the PHP job: empty when none is given, else as given", async () => {
    const c = res.client({ servers: [gearmand.address] });
    expect(text(await c.execute(fn, "UNIQUE"))).toBe("");
    expect(text(await c.execute(fn, "UNIQUE", { unique: "ts-u1" }))).toBe("ts-u1");
    const lg = res.client({ servers: [gearmand.address], libgearmanCompatible: true });
    expect(text(await lg.execute(fn, "UNIQUE"))).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("setReturn(GEARMAN_WORK_FAIL): JobFailedError", async () => {
    const c = res.client({ servers: [gearmand.address] });
    await expect(c.execute(fn, "FAIL", { timeout: 10_000 })).rejects.toBeInstanceOf(JobFailedError);
  });

  it("sendException: JobExceptionError with the exceptions option, JobFailedError (no hang) without", async () => {
    const c = res.client({ servers: [gearmand.address] });
    const err = await c.execute(fn, "EXCEPTION", { timeout: 10_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobExceptionError);
    expect(text((err as JobExceptionError).data)).toBe("php exception");
    const plain = res.client({ servers: [gearmand.address], exceptions: false });
    await expect(plain.execute(fn, "EXCEPTION", { timeout: 10_000 })).rejects.toBeInstanceOf(JobFailedError);
  });
});

describe("Perl Gearman::Client against our worker", () => {
  const fn = fname("perl_ts");
  const exc = fname("perl_ts_exc");
  const block = new Resources();
  beforeAll(async () => {
    const w = block.worker({ servers: [gearmand.address], concurrency: 2 });
    w.defineFunction(fn, interopHandler());
    w.defineFunction(exc, () => {
      throw new Error("ts exception");
    }, { exceptions: true });
    await w.start();
  });
  afterAll(() => block.cleanup());

  it("do_task gets the result; WORK_DATA goes to on_data", async () => {
    expect(await perlClient(fn, "hello")).toMatchObject({ code: 0, json: { ok: 1, result: "HELLO", events: [] } });
    expect((await perlClient(fn, "DATA")).json).toMatchObject({ ok: 1, result: "done", events: ["data d1"] });
  });

  it("the pure-Perl client submits an empty unique", async () => {
    expect((await perlClient(fn, "UNIQUE")).json).toMatchObject({ ok: 1, result: "" });
  });

  it("FAIL calls on_fail; a thrown error gives on_warning then on_fail", async () => {
    expect((await perlClient(fn, "FAIL")).json).toMatchObject({ ok: 0, events: ["fail"] });
    expect((await perlClient(fn, "THROW")).json).toMatchObject({ ok: 0, events: ["warning ts boom", "fail"] });
  });

  it("warning and status reach the callbacks", async () => {
    expect((await perlClient(fn, "WARN")).json).toMatchObject({ ok: 1, result: "warned", events: ["warning careful", "status 1/2"] });
  });

  it("GearmanReturn.ERROR: the second attempt completes", async () => {
    expect((await perlClient(fn, "ERROR_ONCE")).json).toMatchObject({ ok: 1, result: "attempt=2" });
  });

  it("exceptions: true: on_exception with exceptions => 1; without it Gearman::Client dies on gearmand's NUL-suffixed WORK_FAIL, gets on_fail on the embedded server", async () => {
    expect((await perlClient(exc, "x", true)).json).toMatchObject({ ok: 0, events: ["exception ts exception"] });
    const without = await perlClient(exc, "x", false);
    if (serverKind() === "gearmand") {
      expect(without.code).not.toBe(0);
      expect(without.stderr).toContain("Got work_fail for unknown handle");
    } else {
      // The embedded server sends a plain WORK_FAIL(handle) (server-differences.md #1).
      expect(without).toMatchObject({ code: 1, json: { ok: 0, result: null, events: ["fail"] } });
      expect(without.stderr).not.toContain("unknown handle");
    }
  });
});

describe("our client against a Perl Gearman::Worker (GRAB_JOB, no unique)", () => {
  const fn = fname("perl_w");
  beforeAll(async () => {
    startPeer("perl", [PERL_WORKER, gearmand.host, String(gearmand.port), fn]);
    await waitForWorkers(gearmand.address, fn);
  });

  it.each([true, false])("results and data (exceptions: %s)", async (exceptions) => {
    const c = res.client({ servers: [gearmand.address], exceptions });
    expect(text(await c.execute(fn, "hello"))).toBe("HELLO");
    expect(text(await c.execute(fn, "DATA"))).toBe("d1done");
    await expect(c.execute(fn, "FAIL", { timeout: 10_000 })).rejects.toBeInstanceOf(JobFailedError);
  });

  it("a reduce job loses its reducer at a GRAB_JOB worker: the data comes back as WORK_DATA", async () => {
    const c = res.client({ servers: [gearmand.address] });
    expect(text(await c.executeReduce(fn, fname("never_called"), "DATA", { timeout: 10_000 }))).toBe("d1done");
  });

  it.each([true, false])("die: WORK_EXCEPTION (Storable-frozen) then WORK_FAIL; our client settles once (exceptions: %s)", async (exceptions) => {
    // The Perl worker exits on gearmand's ERROR JOB_NOT_FOUND for its second terminal packet: one worker per case.
    const name = fname("perl_die");
    const peer = startPeer("perl", [PERL_WORKER, gearmand.host, String(gearmand.port), name]);
    await waitForWorkers(gearmand.address, name);
    const c = res.client({ servers: [gearmand.address], exceptions });
    const err = await c.execute(name, "DIE", { timeout: 10_000 }).catch((e: unknown) => e);
    if (exceptions) {
      expect(err).toBeInstanceOf(JobExceptionError);
      expect(text((err as JobExceptionError).data)).toContain("perl boom");
    } else {
      expect(err).toBeInstanceOf(JobFailedError);
    }
    expect(await peer.exited).not.toBe(0);
    expect(peer.stderr()).toContain("JOB_NOT_FOUND");
  });
});
