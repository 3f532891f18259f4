// Node: Client and Worker against a gearmand that goes away and comes back (kill -9, restart on the same port), and
// against servers that never complete the TCP handshake. What faults.test.ts, faults-reliability.test.ts,
// multi-server.test.ts and worker-audit.test.ts already prove is not repeated here.
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ClosedError, ConnectionError, type Task } from "../../src/node.ts";
import { freePort } from "../support/gearmand.ts";
import { fname, memoryLogger, Resources, sleep, text, waitFor } from "./helpers.ts";

const res = new Resources();
afterEach(() => res.cleanup());

/**
 * A loopback port whose accept queue is full, so that a further connect() gets no SYN-ACK and stays pending, as to a
 * host that is down: a listener with a backlog of 0 that never accepts (Perl, which Debian always has: Node accepts
 * on its own), its queue filled by two sockets of ours.
 */
async function unresponsiveServer(): Promise<string> {
  const script = 'socket(S,PF_INET,SOCK_STREAM,0);bind(S,pack_sockaddr_in(0,inet_aton("127.0.0.1")));listen(S,0);' +
    '($p)=unpack_sockaddr_in(getsockname(S));$|=1;print "$p\\n";sleep 60';
  const child = spawn("perl", ["-MSocket", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  res.onCleanup(() => child.kill("SIGKILL"));
  const port = Number(await new Promise<string>((resolve, reject) => {
    child.stdout!.once("data", (d: Buffer) => resolve(d.toString()));
    child.once("error", reject);
  }));
  const fill = [0, 1].map(() => connect({ port, host: "127.0.0.1" }).on("error", () => {}));
  res.onCleanup(() => fill.forEach((s) => s.destroy()));
  await sleep(100);
  return `127.0.0.1:${port}`;
}

/** Sockets and timers of this process (child-process pipes left out). */
function handles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r !== "PipeWrap" && r !== "ProcessWrap");
}

describe("close() and stop() while a connect is still out", () => {
  it("client.close() ends pending connects at once: waiting calls reject with ClosedError, no socket stays", async () => {
    const server = await unresponsiveServer();
    const before = handles().length;
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on("warning", onWarning);
    res.onCleanup(() => process.off("warning", onWarning));
    // Eleven servers, each connecting: one AbortSignal for all of them would pass Node's 10-listener warning.
    const c = res.client({ servers: Array<string>(11).fill(server) });
    const echo = c.echo("x").catch((e: unknown) => e);
    const task = c.submit(fname("never"), "x");
    task.result().catch(() => {});
    await sleep(100);
    const t0 = Date.now();
    await c.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await echo).toBeInstanceOf(ClosedError);
    await expect(task.result()).rejects.toBeInstanceOf(ClosedError);
    await sleep(50);
    expect(handles().length).toBeLessThanOrEqual(before);
    expect(warnings).toEqual([]);
  });

  it("worker.stop() ends a pending connect at once: start() rejects with ClosedError, no socket or timer stays", async () => {
    const server = await unresponsiveServer();
    const before = handles().length;
    const w = res.worker({ servers: Array<string>(11).fill(server) });
    w.defineFunction(fname("never"), () => "x");
    const t0 = Date.now();
    const started = w.start().catch((e: unknown) => e);
    await sleep(100);
    await w.stop();
    expect(await started).toBeInstanceOf(ClosedError);
    expect(Date.now() - t0).toBeLessThan(1000);
    await sleep(50);
    expect(handles().length).toBeLessThanOrEqual(before);
  });
});

describe("gearmand killed (-9) and restarted on the same port, again and again", () => {
  it("12 cycles with streaming, queued, running and background work in flight and a sleeping worker: typed outcomes, no hang, nothing left over", async () => {
    const before = handles().length;
    const port = await freePort();
    const args = ["--threads=0"];
    let g = await res.gearmand({ port, args, real: true });
    const fast = fname("fast");
    const stream = fname("stream");
    const idle = fname("idle");
    const opts = { servers: [g.address], reconnectDelay: 20, maxReconnectDelay: 100 };
    const busy = res.worker({ ...opts, concurrency: 3 });
    busy.defineFunction(fast, (job) => `ok ${job.text()}`);
    busy.defineFunction(stream, async (job) => {
      for (let i = 0; !job.signal.aborted; i++) await job.sendData(`chunk ${i}`), await sleep(2);
      return "ended";
    });
    // Only ever asleep (PRE_SLEEP) when gearmand dies: it must come back registered and be woken by the next job.
    const sleeper = res.worker(opts);
    sleeper.defineFunction(idle, (job) => `idle ${job.text()}`);
    await Promise.all([busy.start(), sleeper.start()]);
    const c = res.client({ ...opts, logger: memoryLogger() });
    const wrong: string[] = [];
    for (let cycle = 0; cycle < 12; cycle++) {
      expect(text(await c.execute(idle, String(cycle), { timeout: 5000 }))).toBe(`idle ${cycle}`);
      const streaming = c.submit(stream, "s", { timeout: 10_000 });
      let chunks = 0;
      streaming.on("data", () => chunks++);
      const tasks: Task[] = [streaming, c.submit(fname("nobody"), "queued", { timeout: 10_000 })];
      const terminals = new Map<Task, number>();
      for (const t of tasks) t.on("*", (e) => void (e.type !== "data" && e.type !== "created" && terminals.set(t, (terminals.get(t) ?? 0) + 1)));
      await Promise.all(tasks.map((t) => t.created()));
      await waitFor(() => chunks > 2, 5000, "streaming");
      // Written just before the kill: each one settles, answered or with a typed error.
      const inFlight = [
        ...tasks.map((t) => t.result()),
        ...Array.from({ length: 50 }, (_, i) => c.submitBackground(fname("bg"), String(i), { timeout: 10_000 })),
        ...Array.from({ length: 10 }, (_, i) => c.execute(fast, String(i), { timeout: 10_000 })),
        c.echo("e"), c.getStatus(streaming.handle!),
      ];
      const settled = Promise.allSettled(inFlight);
      await g.stop("SIGKILL");
      // Never a TimeoutError (a hang cut short) nor an untyped error.
      for (const o of await settled) if (o.status === "rejected" && !(o.reason instanceof ConnectionError)) wrong.push(`${cycle}: ${String(o.reason)}`);
      await expect(streaming.result()).rejects.toBeInstanceOf(ConnectionError);
      expect([...terminals.values()]).toEqual([]); // a connection lost is no job outcome
      g = await res.gearmand({ port, args, real: true });
      expect(handles().length).toBeLessThanOrEqual(before + 12);
    }
    expect(wrong).toEqual([]);
    expect(text(await c.execute(fast, "last", { timeout: 5000 }))).toBe("ok last");
    expect(text(await c.execute(idle, "last", { timeout: 5000 }))).toBe("idle last");
    await c.close();
    await Promise.all([busy.stop(), sleeper.stop()]);
    await sleep(50);
    expect(handles().length).toBeLessThanOrEqual(before);
  }, 40_000);
});
