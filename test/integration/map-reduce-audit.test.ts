// Node: map/reduce audit against a real gearmand: reducer jobs of a map job that ends early, connections, the bridge.
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startBridge } from "../../bridge/bridge.ts";
import { Client, type Connector, GearmanReturn, JobFailedError, PolicyError, partitioned, tcpConnector, Worker } from "../../src/node.ts";
import { websocketConnector } from "../../src/transports/websocket.ts";
import { fname, killableConnector, memoryLogger, Resources, sharedServer, sleep, text, waitFor } from "./helpers.ts";

const res = new Resources();
afterEach(() => res.cleanup());

/** A TCP connector that counts the connections it made. */
function countingConnector(): { connector: (server: string) => Connector; count: () => number } {
  let n = 0;
  return { count: () => n, connector: (server) => async (signal) => (n++, await tcpConnector(server)(signal)) };
}

/** A reducer worker that records its calls, takes `delay` ms per chunk and upper-cases it. */
async function slowReducer(name: string, delay: number, concurrency: number) {
  const calls: string[] = [];
  const w = res.worker({ concurrency });
  w.defineFunction(name, async (job) => {
    calls.push(job.text());
    await sleep(delay);
    return job.text().toUpperCase();
  });
  await w.start();
  return calls;
}

describe("reducer jobs of a map job that ends before they do are dropped, not run for nobody", () => {
  it("a map job that times out while its reducer is not served: its reducer jobs do not pile up and run later", async () => {
    const split = fname("split");
    const reducer = fname("late_reducer");
    let runs = 0;
    const m = res.worker();
    m.defineFunction(split, partitioned({
      partition: async (job) => {
        runs++;
        for (const x of ["a", "b", "c"]) await job.sendData(x);
      },
      aggregate: (r) => r.map(text).join(","),
    }), { timeout: 1000 });
    await m.start();
    const c = res.client();
    const out = c.executeReduce(split, reducer, "x", { timeout: 15_000 });
    await waitFor(() => runs >= 2, 5000, "the map job to be run again after its timeout");
    const calls: string[] = [];
    const r = res.worker();
    r.defineFunction(reducer, (job) => (calls.push(job.text()), job.text().toUpperCase()));
    await r.start();
    expect(text(await out)).toBe("A,B,C");
    await sleep(300);
    // Before: every timed-out attempt left its 3 reducer jobs queued, and they all ran once a reducer came.
    expect(calls.length).toBe(3 * (runs - 1));
    expect(runs).toBe(2);
  }, 20_000);

  it("the mapper's connection lost: the dead run frees its place at once and its queued reducer jobs never run", async () => {
    const split = fname("split");
    const upper = fname("upper");
    const calls = await slowReducer(upper, 300, 2);
    const k = killableConnector();
    const m = res.worker({ concurrency: 1, connector: k.connector, reconnectDelay: 20 });
    const starts: number[] = [];
    m.defineFunction(split, partitioned({
      partition: async (job) => {
        starts.push(Date.now());
        for (const w of ["a", "b", "c", "d"]) await job.sendData(w);
      },
      aggregate: (rs) => rs.map(text).join(","),
    }));
    await m.start();
    const c = res.client();
    const p = c.executeReduce(split, upper, "x", { timeout: 10_000 });
    await waitFor(() => calls.length >= 2, 5000, "two reducer jobs running");
    const killedAt = Date.now();
    k.transports[0]!.close(); // the worker connection (the reducer clients have their own)
    expect(text(await p)).toBe("A,B,C,D");
    expect(starts.length).toBe(2);
    // Before: the second run waited for the first run's reducer jobs (~600 ms), and all 8 ran.
    expect(starts[1]! - killedAt).toBeLessThan(250);
    expect(calls.slice(0, 2)).toEqual(["a", "b"]);
    expect(calls.length).toBe(6);
  });

  it("a partition function that returns ERROR after sending chunks: its queued reducer jobs are dropped with it", async () => {
    const split = fname("split");
    const upper = fname("upper");
    const calls = await slowReducer(upper, 200, 1);
    let runs = 0;
    const m = res.worker();
    m.defineFunction(split, partitioned({
      partition: async (job) => {
        for (const w of ["a", "b", "c", "d"]) await job.sendData(w);
        if (++runs === 1) return GearmanReturn.ERROR;
      },
      aggregate: (rs) => rs.map(text).join(""),
    }));
    await m.start();
    const c = res.client();
    expect(text(await c.executeReduce(split, upper, "x", { timeout: 10_000 }))).toBe("ABCD");
    await sleep(300);
    expect(runs).toBe(2);
    // Before: all 4 chunks of the first attempt ran too (8 calls). Now at most the one running when it gave up.
    expect(calls.length).toBeLessThanOrEqual(5);
  });

  it("a failed reducer job: the siblings still queued for that map job are dropped (the map job failed already)", async () => {
    const split = fname("split");
    const upper = fname("upper");
    const calls: string[] = [];
    const r = res.worker({ concurrency: 1 });
    r.defineFunction(upper, async (job) => {
      calls.push(job.text());
      await sleep(100);
      return job.text() === "fail" ? GearmanReturn.FAIL : job.text().toUpperCase();
    });
    await r.start();
    const m = res.worker();
    m.defineFunction(split, partitioned({ partition: async (job) => { for (const w of ["fail", "b", "c", "d", "e"]) await job.sendData(w); } }));
    await m.start();
    const c = res.client();
    await expect(c.executeReduce(split, upper, "x", { timeout: 5000 })).rejects.toBeInstanceOf(JobFailedError);
    await sleep(600);
    // Before: all 5 ran (libgearman runs them all too, then fails). Now at most the one taken meanwhile.
    expect(calls.length).toBeLessThanOrEqual(2);
  });
});

describe("reducer connections", () => {
  it("map jobs reuse their reducer connection; one that failed with reducer jobs out gets a new one", async () => {
    const split = fname("split");
    const upper = fname("upper");
    await slowReducer(upper, 0, 4);
    const cc = countingConnector();
    const m = res.worker({ connector: cc.connector, concurrency: 3 });
    m.defineFunction(split, partitioned({ partition: async (job) => { for (const w of job.text().split(" ")) await job.sendData(w); } }));
    await m.start();
    expect(cc.count()).toBe(1);
    const c = res.client();
    for (let i = 0; i < 5; i++) expect(text(await c.executeReduce(split, upper, `a${i} b${i}`))).toBe(`A${i}B${i}`);
    expect(cc.count()).toBe(2); // the worker's and one reducer client
    await Promise.all([1, 2, 3].map((i) => c.executeReduce(split, upper, `x${i} y${i}`)));
    expect(cc.count()).toBeLessThanOrEqual(4); // at most one per map job running at once
  });

  for (const graceful of [true, false]) {
    it(`stop(${graceful ? "" : "{ graceful: false }"}) during a map job leaves no socket or timer behind`, async () => {
      const split = fname("split");
      const upper = fname("upper");
      await slowReducer(upper, 200, 2);
      const c = res.client();
      await c.echo("warm"); // the client's own socket is open before the baseline
      const baseline = process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap");
      const m = new Worker({ servers: [sharedServer()], logger: memoryLogger() });
      m.defineFunction(split, partitioned({ partition: async (job) => { for (const w of ["a", "b", "c", "d", "e", "f"]) await job.sendData(w); } }), { timeout: 20_000 });
      await m.start();
      const ac = new AbortController();
      const p = c.executeReduce(split, upper, "x", { signal: ac.signal }).then(text, (e: Error) => e.name);
      await sleep(250);
      await m.stop(graceful ? { timeout: 5000 } : { graceful: false });
      if (graceful) expect(await p).toBe("ABCDEF");
      ac.abort();
      await sleep(600); // the reducer worker's jobs end
      const count = (list: string[]) => [list.filter((r) => r === "TCPSocketWrap").length, list.filter((r) => r === "Timeout").length];
      const [sockets, timers] = count(process.getActiveResourcesInfo());
      // Process-wide counts: sockets of earlier tests (or, with the embedded server, its side of them) may still be
      // closing at the baseline, so a leak is a count above it, not one below.
      expect(sockets).toBeLessThanOrEqual(count(baseline)[0]!);
      expect(timers).toBeLessThanOrEqual(count(baseline)[1]!);
    });
  }
});

describe("limits and edge cases", () => {
  it("a chunk over maxPacketSize fails the map job with a message (no hang)", async () => {
    const split = fname("split");
    const upper = fname("upper");
    await slowReducer(upper, 0, 2);
    const m = res.worker({ maxPacketSize: 4096 });
    m.defineFunction(split, partitioned({ partition: async (job) => void (await job.sendData("x".repeat(5000))) }));
    await m.start();
    const err = (await res.client().executeReduce(split, upper, "x", { timeout: 5000 }).catch((e: unknown) => e)) as JobFailedError;
    expect(err).toBeInstanceOf(JobFailedError);
    expect(err.warnings.map(text).join()).toMatch(/maxPacketSize/);
  });

  it("an empty partition: the aggregator gets [] (libgearman does not call it and completes empty)", async () => {
    const split = fname("split");
    const upper = fname("upper");
    let got: Uint8Array[] | undefined;
    const m = res.worker();
    m.defineFunction(split, partitioned({ partition: () => {}, aggregate: (r) => ((got = r), `n=${r.length}`) }));
    const m2 = fname("split_noagg");
    m.defineFunction(m2, partitioned({ partition: () => {} }));
    await m.start();
    const c = res.client();
    expect(text(await c.executeReduce(split, upper, "x", { timeout: 5000 }))).toBe("n=0");
    expect(got).toEqual([]);
    expect(text(await c.executeReduce(m2, upper, "x", { timeout: 5000 }))).toBe("");
  });

  it("a background reduce job reports running while its reducer works, then is gone", async () => {
    const split = fname("split");
    const upper = fname("upper");
    const calls = await slowReducer(upper, 400, 1);
    const m = res.worker();
    m.defineFunction(split, partitioned({ partition: async (job) => void (await job.sendData(job.text())) }));
    await m.start();
    const c = res.client();
    const handle = await c.submitReduceBackground(split, upper, "bg", { unique: fname("u") });
    await waitFor(() => calls.length === 1, 3000, "the reducer job");
    expect(await c.getStatus(handle)).toMatchObject({ known: true, running: true });
    await waitFor(async () => !(await c.getStatus(handle)).known, 3000, "the map job to finish");
  });
});

describe("map/reduce through the bridge", () => {
  it("a reduce job is allowed only when both names are; a mapper behind the bridge needs the client role for its reducer jobs", async () => {
    const g = await res.gearmand({ args: ["--threads=0"] });
    const b = await startBridge({
      upstream: g.address, logger: () => {}, policy: {
        tokens: {
          "tok-web": { id: "web", roles: ["client"], submit: ["app.*"] },
          "tok-map": { id: "map", roles: ["worker", "client"], register: ["app.*"], submit: ["app.*"] },
          "tok-wonly": { id: "wonly", roles: ["worker"], register: ["app.*"] },
        },
      },
    });
    res.onCleanup(() => b.close());
    const via = (token: string) => (server: string) => websocketConnector(server, { WebSocket, token });
    const mapper = (token: string, name: string) => {
      const w = new Worker({ servers: [b.url], connector: via(token), logger: memoryLogger(), reconnectDelay: 50 });
      res.onCleanup(() => w.stop({ graceful: false }));
      w.defineFunction(name, partitioned({ partition: async (job) => { for (const x of job.text().split(" ")) await job.sendData(x); } }));
      return w;
    };
    const r = new Worker({ servers: [b.url], connector: via("tok-map"), logger: memoryLogger() });
    res.onCleanup(() => r.stop({ graceful: false }));
    r.defineFunction("app.upper", (job) => job.text().toUpperCase());
    await r.start();
    await mapper("tok-map", "app.split").start();
    await mapper("tok-wonly", "app.split2").start();
    const client = new Client({ servers: [b.url], connector: via("tok-web"), logger: memoryLogger(), reconnectDelay: 50 });
    res.onCleanup(() => client.close());
    expect(text(await client.executeReduce("app.split", "app.upper", "p q", { timeout: 5000 }))).toBe("PQ");
    // the mapper's reducer client is refused by the bridge: the map job fails, it does not hang
    const err = (await client.executeReduce("app.split2", "app.upper", "p q", { timeout: 5000 }).catch((e: unknown) => e)) as JobFailedError;
    expect(err).toBeInstanceOf(JobFailedError);
    // a reducer the client may not submit to is refused before anything runs
    const denied = new Client({ servers: [b.url], connector: via("tok-web"), logger: memoryLogger(), reconnectDelay: 60_000 });
    res.onCleanup(() => denied.close());
    await expect(denied.executeReduce("app.split", "other.upper", "p", { timeout: 5000 })).rejects.toBeInstanceOf(PolicyError);
  });
});
