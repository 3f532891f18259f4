// Node: bridge faults against a real gearmand: a SIGKILLed bridge process mid-job (C7, not graceful), a Client and Worker over tcp:// + ws:// at once, and D2 tightened (1:1 WS→TCP, memory).
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, test } from "vitest";
import { type Bridge, type BridgePolicy, startBridge } from "../../bridge/bridge.ts";
import { Client, ConnectionError, ErrorCode, type Job, type Packet, PacketType, Worker } from "../../src/node.ts";
import { type BridgeProcess, startBridgeProcess } from "../support/bridge-process.ts";
import { nodeConnector } from "../../src/transports/node-connector.ts";
import { type Gearmand, startGearmand } from "../support/gearmand.ts";
import { admin, rssKiB } from "../support/peers.ts";
import { gate, memoryLogger, sleep, text, waitFor } from "./helpers.ts";

const POLICY: BridgePolicy = {
  tokens: {
    "tok-web": { id: "web", roles: ["client"], submit: ["app.*"] },
    "tok-svc": { id: "svc", roles: ["worker"], register: ["app.*"] },
    "tok-mix": { id: "mix", roles: ["client", "worker"], submit: ["app.*"], register: ["app.*"] },
    "tok-alice": { id: "alice", roles: ["client"], submit: ["app.*"] },
  },
};

let cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  const settle = (p: Promise<unknown>): Promise<unknown> => Promise.race([p.catch(() => {}), sleep(5000)]);
  for (const c of cleanups.reverse()) await settle(Promise.resolve().then(c));
  cleanups = [];
});

async function gearmand(args: string[] = ["--threads=0"]): Promise<Gearmand> {
  const g = await startGearmand({ args, real: true });
  cleanups.push(() => g.stop());
  return g;
}

async function bridgeProcess(upstream: string, o: { port?: number; limits?: Record<string, number> } = {}): Promise<BridgeProcess> {
  const b = await startBridgeProcess({ upstream, policy: POLICY, ...o });
  cleanups.push(() => b.close());
  return b;
}

/** gearmand's `status` row of `fn` as [total, running, workers], or undefined. */
async function statusOf(port: number, fn: string): Promise<[number, number, number] | undefined> {
  const row = (await admin(port, "status")).find((l) => l.split("\t")[0] === fn);
  return row ? (row.split("\t").slice(1, 4).map(Number) as [number, number, number]) : undefined;
}

/** Collects unhandled rejections while the test runs. */
function unhandled(): unknown[] {
  const seen: unknown[] = [];
  const on = (e: unknown): void => void seen.push(e);
  process.on("unhandledRejection", on);
  cleanups.push(() => void process.off("unhandledRejection", on));
  return seen;
}

describe("C7: the bridge process is SIGKILLed mid-job", () => {
  test("gearmand requeues the job, the worker loses and regains its connection within its back-off, the TCP client gets one result; a ws:// client's task gets ConnectionError", async () => {
    const rejections = unhandled();
    const g = await gearmand();
    const b1 = await bridgeProcess(g.address);
    const port = b1.port;
    const reconnectDelay = 100, maxReconnectDelay = 400;

    // The worker, through the bridge: the first run of app.hold waits for `release`, later runs answer at once.
    const log = memoryLogger();
    const runs: Job[] = [];
    const release = gate();
    // The default Node connector, noting when each connection attempt starts.
    const attempts: number[] = [];
    const worker = new Worker({
      servers: [b1.url], token: "tok-svc", concurrency: 2, reconnectDelay, maxReconnectDelay, logger: log,
      connector: (server, options) => {
        const connect = nodeConnector(server, options);
        return (signal) => (attempts.push(performance.now()), connect(signal));
      },
    });
    worker.defineFunction("app.hold", async (job) => {
      runs.push(job);
      if (runs.length === 1) {
        await release.promise;
        return `stale:${job.text()}`;
      }
      return `fresh:${job.text()}`;
    });
    await worker.start();
    cleanups.push(() => worker.stop({ graceful: false }));

    // The client over direct TCP: counts the WORK_COMPLETEs gearmand sends it.
    const completes: Packet[] = [];
    const tcpClient = new Client({ servers: [g.address], logger: memoryLogger(), tap: (d, p) => void (d === "in" && p.type === PacketType.WORK_COMPLETE && completes.push(p)) });
    cleanups.push(() => tcpClient.close());
    const task = tcpClient.submit("app.hold", "payload");
    const handle = await task.created();
    const result = task.result().then(text);
    result.catch(() => {});

    // A client through the bridge with a task in flight (no worker for app.idle: it stays queued).
    const wsLog = memoryLogger();
    const wsClient = new Client({ servers: [b1.url], token: "tok-web", reconnectDelay, maxReconnectDelay, logger: wsLog });
    cleanups.push(() => wsClient.close());
    const wsTask = wsClient.submit("app.idle", "x");
    await wsTask.created();
    const wsOutcome = wsTask.result().then(() => "resolved", (e: unknown) => e);

    await waitFor(() => runs.length === 1, 5000, "the worker to take the job");
    expect(await statusOf(g.port, "app.hold")).toEqual([1, 1, 1]);

    expect(attempts.length).toBe(1);
    process.kill(b1.pid, "SIGKILL");

    // The ws:// client: a typed ConnectionError, not a hang and not a PolicyError.
    const wsErr = await Promise.race([wsOutcome, sleep(5000).then(() => "hung")]);
    expect(wsErr).toBeInstanceOf(ConnectionError);
    expect((wsErr as ConnectionError).code).toBe(ErrorCode.CONNECTION);
    expect((wsErr as ConnectionError).code).toBe("GEARMAN_CONNECTION");

    // The bridge's TCP connection died with it: gearmand requeues the job (1 queued, 0 running, no worker).
    await waitFor(async () => JSON.stringify(await statusOf(g.port, "app.hold")) === "[1,0,0]", 5000, "gearmand to requeue app.hold");
    // The worker saw the loss: the running job is aborted, and its logger got the error with the reconnect plan.
    await waitFor(() => runs[0]!.signal.aborted, 5000, "the held job to be aborted");
    await waitFor(() => log.messages.some((l) => l.startsWith(`debug: reconnect to ${b1.url} in `)), 5000, "a reconnect log line");
    // The logger gets the loss with its cause (the WebSocket closed without a close frame): once at warn, the retries at debug.
    expect(log.messages.find((l) => l.includes("reconnect to"))).toMatch(/^debug: reconnect to \S+ in \d+ ms: WebSocket \S+ closed \(1006\)$/);
    expect(log.messages.filter((l) => l.startsWith("warn:"))).toEqual([`warn: connection to ${b1.url} lost: WebSocket ${b1.url} closed (1006); reconnecting`]);

    // Down long enough that the worker's back-off reaches its cap (100→200→400 ms), then a new bridge on the same port.
    await sleep(2000);
    expect(runs.length).toBe(1);
    const down = attempts.slice(1);
    const b2 = await bridgeProcess(g.address, { port });
    const up = performance.now();
    // While the bridge was down the worker retried by itself, attempt j+1 after a delay in [c/2, c], c = min(400, 100·2^j)
    // (the first retry's delay, attempt 0, counts from a close time the test cannot see). Slack: timers run late on a busy machine.
    const gaps = down.slice(1).map((t, i) => t - down[i]!);
    console.log(`C7 (SIGKILL): ${down.length} attempts while the bridge was down, gaps ${gaps.map((x) => x.toFixed(0)).join(", ")} ms`);
    expect(down.length).toBeGreaterThanOrEqual(5);
    gaps.forEach((gap, i) => {
      const c = Math.min(maxReconnectDelay, reconnectDelay * 2 ** (i + 1));
      expect(gap, `gap after retry ${i + 1}`).toBeGreaterThanOrEqual(c / 2 - 3);
      expect(gap, `gap after retry ${i + 1}`).toBeLessThanOrEqual(c + 250);
    });
    await waitFor(async () => (await admin(g.port, "workers")).some((r) => / svc : app\.hold$/.test(r)), 5000, "the worker to register through the new bridge");
    // However many attempts the outage took, the loss was reported once.
    expect(log.messages.filter((l) => l.startsWith("warn:"))).toHaveLength(1);
    const reconnectMs = performance.now() - up;
    console.log(`C7 (SIGKILL): worker re-registered ${reconnectMs.toFixed(0)} ms after the new bridge listened (back-off cap ${maxReconnectDelay} ms)`);
    // At most one capped back-off (≤ maxReconnectDelay) plus connect + CAN_DO, with slack for a noisy machine.
    expect(reconnectMs).toBeLessThan(maxReconnectDelay + 1000);

    // The requeued job runs again (at-least-once) and the TCP client gets its one result.
    expect(await Promise.race([result, sleep(5000).then(() => "no result")])).toBe("fresh:payload");
    expect(runs.length).toBe(2);
    expect(runs[1]!.handle).toBe(handle);
    // The first run ends late: its result is dropped (its connection is gone), never sent on the new one.
    release.resolve();
    await sleep(300);
    expect(completes.map((p) => [text(p.args[0]!), text(p.args[1]!)])).toEqual([[handle, "fresh:payload"]]);
    expect(await statusOf(g.port, "app.hold")).toEqual([0, 0, 1]);
    expect(log.messages.filter((l) => l.startsWith("warn:") && l.includes("answered ERROR"))).toEqual([]);
    // The ws:// client works again through the new bridge by itself.
    await waitFor(async () => await wsClient.execute("app.hold", "again", { timeout: 1000 }).then(text, () => "") === "fresh:again", 5000, "the ws client to work again");
    expect(rejections).toEqual([]);
    expect(b2.port).toBe(port);
  }, 40_000);
});

describe("one Client and one Worker over tcp:// (gearmand A) and ws:// (a bridge to gearmand B)", () => {
  async function mixed(): Promise<{ a: Gearmand; b: Gearmand; bridge: Bridge; client: Client; worker: Worker; served: string[] }> {
    const [a, b] = await Promise.all([gearmand(["--threads=0", "--job-handle-prefix=ga"]), gearmand(["--threads=0", "--job-handle-prefix=gb"])]);
    const bridge = await startBridge({ upstream: b.address, policy: POLICY, logger: () => {} });
    cleanups.push(() => bridge.close());
    const servers = [`tcp://${a.address}`, bridge.url];
    const o = { servers, token: "tok-mix", reconnectDelay: 50, maxReconnectDelay: 200, logger: memoryLogger() };
    const served: string[] = [];
    const worker = new Worker({ ...o, concurrency: 4 });
    worker.defineFunction("app.work", (job) => (served.push(job.handle), `${job.handle}|${job.text()}`));
    await worker.start();
    cleanups.push(() => worker.stop({ graceful: false }));
    // start() resolves on the first server; wait for the other too.
    await waitFor(async () => (await statusOf(a.port, "app.work"))?.[2] === 1 && (await statusOf(b.port, "app.work"))?.[2] === 1, 5000, "the worker on both servers");
    const client = new Client(o);
    cleanups.push(() => client.close());
    return { a, b, bridge, client, worker, served };
  }

  const prefixOf = (result: string): string => result.split("|")[0]!.replace(/:.*/, "");

  async function runJobs(client: Client, tag: string, n = 40): Promise<string[]> {
    const out = await Promise.all(Array.from({ length: n }, (_, i) => client.execute("app.work", `${tag}${i}`, { unique: `${tag}-${i}`, timeout: 5000 })));
    return out.map(text);
  }

  test("jobs run on both servers; the worker is registered on both (tcp client id and the bridge's principal)", async () => {
    const { a, b, client } = await mixed();
    const results = await runJobs(client, "both");
    results.forEach((r, i) => expect(r.endsWith(`|both${i}`)).toBe(true));
    const prefixes = results.map(prefixOf);
    const onA = prefixes.filter((p) => p === "ga").length, onB = prefixes.filter((p) => p === "gb").length;
    console.log(`mixed servers: ${onA} jobs on gearmand A (tcp), ${onB} on gearmand B (bridge)`);
    expect(onA + onB).toBe(40);
    expect(onA).toBeGreaterThan(0);
    expect(onB).toBeGreaterThan(0);
    // Background jobs too, counted by each gearmand: a function no one serves, so they stay queued.
    for (let i = 0; i < 20; i++) await client.submitBackground("app.queued", "x", { unique: `bg-${i}` });
    const [qa, qb] = [(await statusOf(a.port, "app.queued"))?.[0] ?? 0, (await statusOf(b.port, "app.queued"))?.[0] ?? 0];
    expect(qa + qb).toBe(20);
    expect(qa).toBeGreaterThan(0);
    expect(qb).toBeGreaterThan(0);
    expect((await admin(b.port, "workers")).some((r) => / mix : app\.work$/.test(r))).toBe(true);
  });

  test.each(["gearmand A", "the bridge"])("after %s stops, the client and the worker keep working through the other server", async (which) => {
    const env = await mixed();
    expect(new Set((await runJobs(env.client, "warm")).map(prefixOf))).toEqual(new Set(["ga", "gb"]));
    const survivor = which === "gearmand A" ? "gb" : "ga";
    if (which === "gearmand A") await env.a.stop("SIGKILL");
    else await env.bridge.close();
    // A submit may still meet the dying connection before the client saw it close (a typed ConnectionError): retry until one passes.
    await waitFor(async () => await env.client.execute("app.work", "probe", { timeout: 2000 }).then(() => true, (e: unknown) => {
      expect(e).toBeInstanceOf(ConnectionError);
      return false;
    }), 5000, "a first job after the stop");
    // Then every job, including uniques that hashed to the lost server, runs on the survivor, served by the same worker:
    // in three rounds 250 ms apart, so that the lost server's back-off (≤ 200 ms) is over each time and the client tries it again.
    const before = env.served.length;
    for (let round = 0; round < 3; round++) {
      await sleep(250);
      const results = await runJobs(env.client, `after${round}-`);
      results.forEach((r, i) => expect(r.endsWith(`|after${round}-${i}`)).toBe(true));
      expect(new Set(results.map(prefixOf))).toEqual(new Set([survivor]));
    }
    expect(env.served.length - before).toBe(120);
    // Background jobs as well.
    for (let i = 0; i < 10; i++) await env.client.submitBackground("app.work", "bg", { unique: `after-bg-${i}` });
    await waitFor(() => env.served.length - before === 130, 5000, "the background jobs to run");
  });
});

describe("D2 tightened", () => {
  test("1,000 WebSocket connections + one ECHO each: 1,000 gearmand connections with the principal's id, bounded memory", async () => {
    const g = await gearmand(["-b", "1024", "--threads=0"]);
    const b = await bridgeProcess(g.address, { limits: { maxConnectionsPerIp: 2000, maxConnectionsPerPrincipal: 2000 } });
    const alice = async (): Promise<number> => (await admin(g.port, "workers")).filter((r) => / alice :/.test(r)).length;
    expect(await alice()).toBe(0);
    const gBefore = await rssKiB(g.pid);
    const before = await b.stats();
    const t0 = performance.now();
    const child = fork(fileURLToPath(new URL("../support/ws-load.mjs", import.meta.url)), [b.url, "tok-alice", "1000"]);
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    cleanups.push(async () => {
      child.kill("SIGKILL");
      await exited;
    });
    const r = await new Promise<{ openMs: number; echoMs: number; ok: number }>((resolve, rejectRun) => {
      child.once("message", (m) => resolve(m as { openMs: number; echoMs: number; ok: number }));
      child.once("exit", (code) => rejectRun(new Error(`load process exited with ${code}`)));
    });
    const wallMs = performance.now() - t0;
    expect(r.ok).toBe(1000);
    const after = await b.stats();
    expect(after.connections).toBe(1000);
    // 1:1: each WebSocket has its own gearmand connection, attributed to the principal by the bridge's SET_CLIENT_ID.
    const rows = await admin(g.port, "workers");
    const aliceRows = rows.filter((l) => / alice :/.test(l));
    expect(aliceRows.length).toBe(1000);
    expect(new Set(aliceRows.map((l) => l.split(" ")[0])).size).toBe(1000);
    const retainedMiB = (after.retained - before.retained) / 2 ** 20;
    const bridgeRssMiB = (after.rss - before.rss) / 2 ** 20;
    const gearmandMiB = ((await rssKiB(g.pid)) - gBefore) / 1024;
    console.log(`D2 tightened: 1000 opened in ${r.openMs.toFixed(0)} ms, echoes in ${r.echoMs.toFixed(0)} ms (wall ${wallMs.toFixed(0)} ms); ` +
      `bridge +${retainedMiB.toFixed(1)} MiB heap+buffers after GC (RSS +${bridgeRssMiB.toFixed(1)} MiB, ${after.fds} fds), gearmand +${gearmandMiB.toFixed(1)} MiB RSS`);
    expect(wallMs).toBeLessThan(10_000);
    expect(retainedMiB).toBeLessThan(32);
    expect(gearmandMiB).toBeLessThan(24);
    // And 1:1 on the way down: closing the WebSockets closes their gearmand connections.
    child.send("close");
    await waitFor(async () => (await b.stats()).connections === 0, 10_000, "the bridge to drop its connections");
    await waitFor(async () => (await alice()) === 0, 10_000, "gearmand to drop the principal's connections");
  }, 60_000);
});
