// Node: test-plan section D through the SDK over TCP (issue #7). D1 through the bridge, D2 and D3 are in
// bridge-policy.test.ts ("D: load through the bridge"); here: D1 over TCP, and D4 (a worker streams WORK_DATA to
// a client that does not read) on the worker side, on the embedded server, and what gearmand does.
import { afterEach, describe, expect, it } from "vitest";
import { type Connector, PacketType as T, type Transport, argText, tcpConnector } from "../../src/node.ts";
import { startServer } from "../../src/server/node.ts";
import { serverKind } from "../support/gearmand.ts";
import { retainedBytes, rssKiB, tcpPeer } from "../support/peers.ts";
import { fname, Resources, sleep, text, waitFor } from "./helpers.ts";

const res = new Resources();
afterEach(() => res.cleanup());

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;

describe("D1 over TCP", () => {
  it("10,000 concurrent foreground jobs (10 clients × 1,000, 4 workers): each runs exactly once, each result reaches its task", async () => {
    const g = await res.gearmand({ args: ["--threads=0", "-b", "256"] });
    const fn = fname("d1tcp");
    const executed = new Map<string, number>();
    for (let i = 0; i < 4; i++) {
      const w = res.worker({ servers: [g.address], concurrency: 32 });
      w.defineFunction(fn, (job) => {
        const id = job.text();
        executed.set(id, (executed.get(id) ?? 0) + 1);
        return `r:${id}`;
      });
      await w.start();
    }
    const clients = Array.from({ length: 10 }, () => res.client({ servers: [g.address] }));
    await Promise.all(clients.map((c) => c.echo("warm")));
    const t0 = performance.now();
    const results = await Promise.all(clients.flatMap((c, ci) =>
      Array.from({ length: 1000 }, (_, i) => c.execute(fn, `${ci}:${i}`, { timeout: 60_000 }).then(text))));
    const ms = performance.now() - t0;
    expect(results.length).toBe(10_000);
    results.forEach((r, k) => expect(r).toBe(`r:${Math.floor(k / 1000)}:${k % 1000}`));
    expect(executed.size).toBe(10_000);
    expect([...executed.values()].every((n) => n === 1)).toBe(true);
    console.log(`D1 (TCP, ${serverKind()}): 10,000 jobs in ${ms.toFixed(0)} ms (${(10_000 / (ms / 1000)).toFixed(0)} jobs/s)`);
  }, 90_000);
});

/** A raw client that submits one job and then never reads (its socket is paused). */
async function stalledClient(port: number, fn: string): Promise<Awaited<ReturnType<typeof tcpPeer>>> {
  const c = await tcpPeer(port);
  res.onCleanup(() => c.close());
  c.send(T.SUBMIT_JOB, [fn, "", "stream to me"]);
  await c.next(T.JOB_CREATED);
  c.socket.pause();
  return c;
}

/** Counts what a worker hands its transport, so the bytes held inside the SDK (queued, not yet written) are known. */
function countingConnector(): { connector: (server: string) => Connector; written: () => number; blockedWrites: () => number } {
  let written = 0;
  let blockedWrites = 0;
  return {
    written: () => written,
    blockedWrites: () => blockedWrites,
    connector: (server) => async (signal) => {
      const t = await tcpConnector(server)(signal);
      let blocked = false;
      const wrapped: Transport = {
        remote: t.remote,
        start: (sink) => t.start({ ...sink, drain: () => ((blocked = false), sink.drain()) }),
        write: (bytes) => {
          if (blocked) blockedWrites++;
          written += bytes.length;
          const ok = t.write(bytes);
          if (!ok) blocked = true;
          return ok;
        },
        pause: () => t.pause(),
        resume: () => t.resume(),
        close: () => t.close(),
      };
      return wrapped;
    },
  };
}

const CHUNK = 64 << 10;

/**
 * Heap + buffers after GC once it stopped falling for 2.5 s: what earlier tests left may still be on its way
 * out (a socket whose peer never takes the FIN is destroyed after 2 s).
 */
async function settledRetained(): Promise<number> {
  let low = await retainedBytes();
  for (let i = 0, still = 0; i < 100 && still < 25; i++) {
    await sleep(100);
    const now = await retainedBytes();
    still = now > low - (256 << 10) ? still + 1 : 0;
    low = Math.min(low, now);
  }
  return low;
}

describe("D4: a worker streams WORK_DATA to a client that does not read", () => {
  it("worker side: a handler that awaits sendData holds a bounded amount inside the SDK however fast it streams", async () => {
    const g = await res.gearmand({ args: ["--threads=0"] });
    const fn = fname("d4worker");
    const counting = countingConnector();
    const TOTAL = 48 << 20;
    let produced = 0;
    let maxHeld = 0;
    const w = res.worker({ servers: [g.address], connector: counting.connector });
    const chunk = new Uint8Array(CHUNK).fill(0x61);
    w.defineFunction(fn, async (job) => {
      // A tight loop: every await resolves at once unless the SDK pushes back.
      while (produced < TOTAL && !job.signal.aborted) {
        await job.sendData(chunk);
        produced += CHUNK;
        // Bytes the handler produced that have not reached the transport yet (each WORK_DATA adds a header).
        maxHeld = Math.max(maxHeld, produced - counting.written());
      }
      return "end";
    });
    await w.start();
    // gearmand buffers for the stalled client itself; the embedded server disconnects it at 64 MiB (later test).
    await stalledClient(g.port, fn);
    await waitFor(() => produced >= TOTAL, 30_000, "the stream to be produced");
    console.log(`D4 worker side (${serverKind()}): streamed ${mib(produced)}; at most ${mib(maxHeld)} held inside the SDK; ` +
      `${counting.blockedWrites()} writes while the transport pushed back`);
    // At most the early-write threshold (256 KiB) plus one chunk; without backpressure it was the whole stream.
    expect(maxHeld).toBeLessThan(1 << 20);
    expect(counting.blockedWrites()).toBeLessThanOrEqual(1);
  }, 60_000);

  it("embedded server: the client that does not read is dropped at maxOutputBuffer; memory stays bounded and the job completes", async () => {
    const MAX_OUT = 8 << 20;
    const srv = await startServer({ port: 0, host: "127.0.0.1", maxOutputBuffer: MAX_OUT });
    res.onCleanup(() => srv.close());
    const fn = fname("d4emb");
    const TOTAL = 96 << 20;
    let produced = 0;
    let samples = 0;
    let peak = 0;
    const before = await settledRetained();
    const w = res.worker({ servers: [srv.address] });
    const chunk = new Uint8Array(CHUNK).fill(0x62);
    let ended = "";
    w.defineFunction(fn, async (job) => {
      while (produced < TOTAL) {
        await job.sendData(chunk);
        produced += CHUNK;
        if (produced % (8 << 20) === 0) {
          // Server and worker live in this process: everything they hold is in here.
          peak = Math.max(peak, await retainedBytes());
          samples++;
        }
      }
      ended = "end";
      return "end";
    });
    await w.start();
    const c = await stalledClient(srv.port, fn);
    await waitFor(() => ended === "end", 60_000, "the worker to finish streaming");
    // The server dropped the client: once it reads again it finds some data, then the end, and no WORK_COMPLETE.
    let closed = false;
    c.socket.once("close", () => (closed = true));
    c.socket.resume();
    await waitFor(() => closed, 10_000, "the server to have closed the stalled client");
    expect(c.inbox.packets.some((p) => p.type === T.WORK_COMPLETE)).toBe(false);
    c.inbox.packets.length = 0;
    // What the server kept for the client is gone with it. The lower of the two readings is the baseline.
    const t0 = Date.now();
    const end = await settledRetained();
    const base = Math.min(before, end);
    const maxHeld = peak - base;
    const after = end - base;
    console.log(`D4 embedded server: streamed ${mib(produced)} to a client that does not read; held at most ${mib(maxHeld)} ` +
      `(${samples} samples, heap+buffers after GC, worker and server together), ${mib(after)} ${Date.now() - t0} ms later`);
    // The output buffer grows by doubling, so what was kept for the client stays under 2 × maxOutputBuffer.
    expect(maxHeld).toBeLessThan(2 * MAX_OUT + (4 << 20));
    expect(after).toBeLessThan(4 << 20);
    // The server and the worker carry on.
    const client = res.client({ servers: [srv.address] });
    w.defineFunction(`${fn}_after`, () => "fine");
    expect(text(await client.execute(`${fn}_after`, "x", { timeout: 5000 }))).toBe("fine");
  }, 90_000);

  it("gearmand buffers everything a worker streams for a client that does not read (documented: not bounded)", async () => {
    const g = await res.gearmand({ args: ["--threads=0"], real: true });
    const fn = fname("d4gearmand");
    const TOTAL = 32 << 20;
    let produced = 0;
    const w = res.worker({ servers: [g.address] });
    const chunk = new Uint8Array(CHUNK).fill(0x63);
    w.defineFunction(fn, async (job) => {
      while (produced < TOTAL) {
        await job.sendData(chunk);
        produced += CHUNK;
      }
      return "end";
    });
    await w.start();
    const base = await rssKiB(g.pid);
    const c = await stalledClient(g.port, fn);
    await waitFor(() => produced >= TOTAL, 30_000, "the stream");
    await sleep(200);
    const grew = ((await rssKiB(g.pid)) - base) * 1024;
    console.log(`D4 gearmand: streamed ${mib(produced)} to a client that does not read; gearmand RSS +${mib(grew)}`);
    // gearmand has no per-connection output limit: what the client does not read stays in gearmand (minus
    // what the kernel's socket buffers hold). The bridge's slow-consumer close bounds it in time, not in bytes.
    expect(grew).toBeGreaterThan(TOTAL / 2);
    // Once the client reads, it gets every byte and the result.
    c.socket.resume();
    await waitFor(() => c.inbox.packets.some((p) => p.type === T.WORK_COMPLETE), 30_000, "the result");
    const data = c.inbox.packets.filter((p) => p.type === T.WORK_DATA);
    expect(data.length).toBe(TOTAL / CHUNK);
    expect(argText(c.inbox.packets.find((p) => p.type === T.WORK_COMPLETE)!, 1)).toBe("end");
  }, 60_000);
});
