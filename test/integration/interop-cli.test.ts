// Node: interop with the `gearman` command line tool of gearman-tools 1.1.20 (issue #2), both ways.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { JobFailedError, type Job } from "../../src/node.ts";
import { type Gearmand, startGearmand } from "../support/gearmand.ts";
import { interopHandler, runPeer, startPeer, stopPeers, waitForQueued, waitForWorkers } from "../support/interop-peers.ts";
import { fname, Resources, text, waitFor } from "./helpers.ts";

let gearmand: Gearmand;
const res = new Resources();

beforeAll(async () => {
  gearmand = await startGearmand({ args: ["--threads=0"] });
  const probe = await runPeer("gearman", ["-H"]).catch(() => undefined);
  if (!probe) throw new Error("the gearman CLI is missing: sudo apt-get install -y gearman-tools");
});

afterEach(() => res.cleanup());

afterAll(async () => {
  await stopPeers();
  await gearmand?.stop();
});

/** Runs the CLI as a client: `gearman -h HOST -p PORT ARGS…`, with a 10 s client timeout. */
function cli(args: string[], input?: string) {
  return runPeer("gearman", ["-h", gearmand.host, "-p", String(gearmand.port), "-t", "10000", ...args], { timeout: 15_000, input });
}

/** Starts the CLI as a worker and waits until gearmand lists it for `fn`. */
async function cliWorker(fn: string, args: string[] = []) {
  const peer = startPeer("gearman", ["-w", "-h", gearmand.host, "-p", String(gearmand.port), "-f", fn, ...args]);
  await waitForWorkers(gearmand.address, fn);
  return peer;
}

describe("the gearman CLI as a client of our worker", () => {
  const fn = fname("cli_ts");
  const seen: Job[] = [];
  const block = new Resources();
  beforeAll(async () => {
    const handler = interopHandler();
    const w = block.worker({ servers: [gearmand.address], concurrency: 2 });
    w.defineFunction(fn, (job) => {
      seen.push(job);
      return handler(job);
    });
    await w.start();
  });
  afterAll(() => block.cleanup());

  it("stdout is the result, from an argument or from stdin; -s sends an empty workload", async () => {
    expect(await cli(["-f", fn, "hello"])).toMatchObject({ code: 0, stdout: "HELLO" });
    expect(await cli(["-f", fn], "from stdin")).toMatchObject({ code: 0, stdout: "FROM STDIN" });
    expect(await cli(["-f", fn, "-s"])).toMatchObject({ code: 0, stdout: "(empty)" });
  });

  it("WORK_DATA and WORK_COMPLETE both go to stdout", async () => {
    expect(await cli(["-f", fn, "DATA"])).toMatchObject({ code: 0, stdout: "d1done" });
  });

  it("FAIL: `Job failed` on stderr and exit 1", async () => {
    const run = await cli(["-f", fn, "FAIL"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("Job failed");
  });

  it("a thrown error: the warning on stderr, then `Job failed` and exit 1", async () => {
    const run = await cli(["-f", fn, "THROW"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("ts boom");
    expect(run.stderr.indexOf("ts boom")).toBeLessThan(run.stderr.indexOf("Job failed"));
  });

  it("-u sets the unique; without it the CLI sends a UUID", async () => {
    expect((await cli(["-f", fn, "-u", "cli-unique-1", "UNIQUE"])).stdout).toBe("cli-unique-1");
    expect((await cli(["-f", fn, "UNIQUE"])).stdout).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it("-I and -L in the foreground still return the result", async () => {
    expect(await cli(["-I", "-f", fn, "high"])).toMatchObject({ code: 0, stdout: "HIGH" });
    expect(await cli(["-L", "-f", fn, "low"])).toMatchObject({ code: 0, stdout: "LOW" });
  });

  it("-b submits in the background: nothing printed, our worker runs it", async () => {
    const run = await cli(["-b", "-f", fn, "bg-payload"]);
    expect(run).toMatchObject({ code: 0, stdout: "" });
    await waitFor(() => seen.some((j) => j.text() === "bg-payload"), 5000, "the background job");
  });
});

describe("the gearman CLI's queue flags, seen by our worker", () => {
  it("-b -I, -b, -b -L queue high, normal and low; our worker takes them in that order", async () => {
    const fn = fname("cli_prio");
    for (const args of [["-L"], [], ["-I"]]) {
      const payload = args[0] === "-L" ? "low" : args[0] === "-I" ? "high" : "normal";
      expect((await cli(["-b", ...args, "-f", fn, payload])).code).toBe(0);
    }
    const admin = res.admin(gearmand.address);
    expect((await admin.priorityStatus()).find((r) => r.name === fn)).toMatchObject({ high: 1, normal: 1, low: 1 });
    const ran: string[] = [];
    const w = res.worker({ servers: [gearmand.address], concurrency: 1 });
    w.defineFunction(fn, (job) => void ran.push(job.text()));
    await w.start();
    await waitFor(() => ran.length === 3, 5000, "three jobs");
    expect(ran).toEqual(["high", "normal", "low"]);
  });

  it("-b -u: two submits with one unique coalesce into one job", async () => {
    const fn = fname("cli_uniq");
    expect((await cli(["-b", "-u", "same-key", "-f", fn, "first"])).code).toBe(0);
    expect((await cli(["-b", "-u", "same-key", "-f", fn, "second"])).code).toBe(0);
    const admin = res.admin(gearmand.address);
    expect((await admin.status()).find((r) => r.name === fn)?.total).toBe(1);
    const ran: Job[] = [];
    const w = res.worker({ servers: [gearmand.address] });
    w.defineFunction(fn, (job) => void ran.push(job));
    await w.start();
    await waitFor(() => ran.length === 1, 5000, "the job");
    expect(ran.map((j) => [j.text(), j.unique])).toEqual([["first", "same-key"]]);
  });
});

describe("the gearman CLI as a worker for our client", () => {
  it("`-- tr a-z A-Z`: the command's stdout is the result, at every priority and with a unique", async () => {
    const fn = fname("cli_tr");
    await cliWorker(fn, ["--", "tr", "a-z", "A-Z"]);
    const c = res.client({ servers: [gearmand.address] });
    expect(text(await c.execute(fn, "hello"))).toBe("HELLO");
    expect(text(await c.execute(fn, "high", { priority: "high" }))).toBe("HIGH");
    expect(text(await c.execute(fn, "low", { priority: "low", unique: "cli-w-1" }))).toBe("LOW");
  });

  it("without a command the worker prints the workload and completes empty; a background job arrives", async () => {
    const fn = fname("cli_bg");
    const peer = await cliWorker(fn, ["-c", "2"]);
    const c = res.client({ servers: [gearmand.address] });
    expect(text(await c.execute(fn, "fg-payload|"))).toBe("");
    expect(await c.submitBackground(fn, "bg-payload|")).toMatch(/^H:/);
    expect(await peer.exited).toBe(0);
    expect(peer.stdout()).toBe("fg-payload|bg-payload|");
  });

  it("our background priorities reach the CLI worker as high, normal, low", async () => {
    const fn = fname("cli_wprio");
    const c = res.client({ servers: [gearmand.address] });
    for (const p of ["low", "normal", "high"] as const) await c.submitBackground(fn, `${p}\n`, { priority: p });
    await waitForQueued(gearmand.address, fn, 3);
    const peer = startPeer("gearman", ["-w", "-h", gearmand.host, "-p", String(gearmand.port), "-f", fn, "-c", "3"]);
    expect(await peer.exited).toBe(0);
    expect(peer.stdout()).toBe("high\nnormal\nlow\n");
  });

  it("our background submits with one unique coalesce: the CLI worker gets one job", async () => {
    const fn = fname("cli_wuniq");
    const c = res.client({ servers: [gearmand.address] });
    const h1 = await c.submitBackground(fn, "first|", { unique: "k1" });
    const h2 = await c.submitBackground(fn, "second|", { unique: "k1" });
    expect(h2).toBe(h1);
    const admin = res.admin(gearmand.address);
    expect((await admin.status()).find((r) => r.name === fn)?.total).toBe(1);
    const peer = startPeer("gearman", ["-w", "-h", gearmand.host, "-p", String(gearmand.port), "-f", fn, "-c", "1"]);
    expect(await peer.exited).toBe(0);
    expect(peer.stdout()).toBe("first|");
  });

  it("`-- sh -c 'echo out; exit 3'`: data \"out\\n\", then JobFailedError", async () => {
    const fn = fname("cli_exit");
    await cliWorker(fn, ["--", "sh", "-c", "echo out; exit 3"]);
    const c = res.client({ servers: [gearmand.address] });
    const task = c.submit(fn, "x", { timeout: 10_000 });
    const data: string[] = [];
    task.on("data", (e) => data.push(text(e.data)));
    await expect(task.result()).rejects.toBeInstanceOf(JobFailedError);
    expect(data).toEqual(["out\n"]);
    await expect(c.execute(fn, "y", { timeout: 10_000 })).rejects.toBeInstanceOf(JobFailedError);
  });
});
