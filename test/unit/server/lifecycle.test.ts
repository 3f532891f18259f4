// Embedded job server: clients that leave, output batching, backpressure and the output cap,
// server shutdown.
import { afterEach, describe, expect, it } from "vitest";
import type { Transport, TransportSink } from "../../../src/core/transport.ts";
import { PacketType as P } from "../../../src/protocol/packet-types.ts";
import { encodePacket } from "../../../src/protocol/packet.ts";
import { JobServer } from "../../../src/server/server.ts";
import type { JobServerOptions } from "../../../src/server/options.ts";
import { RawPeer } from "./raw-peer.ts";

let server: JobServer | undefined;
function start(options: JobServerOptions = {}): () => RawPeer {
  server = new JobServer({ name: "t", ...options });
  return () => RawPeer.memory(server!);
}
afterEach(() => {
  server?.close();
  server = undefined;
});

/** A server-side transport under the test's control: write() reports congestion past `limit` bytes. */
class FakeTransport implements Transport {
  readonly remote = "fake://10.0.0.1:1";
  sink: TransportSink | undefined;
  writes: Uint8Array[] = [];
  written = 0;
  paused = false;
  closed = false;
  limit: number;
  constructor(limit = Infinity) {
    this.limit = limit;
  }
  start(sink: TransportSink): void {
    this.sink = sink;
  }
  write(bytes: Uint8Array<ArrayBuffer>): boolean {
    this.writes.push(bytes);
    this.written += bytes.length;
    return this.written < this.limit;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sink?.closed();
  }
}

const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe("job server: clients that leave", () => {
  it("a queued foreground job whose client left still counts, and is dropped when grabbed", async () => {
    const peer = start();
    const a = peer();
    const c = peer();
    c.send(P.SUBMIT_JOB, ["f", "", "x"]);
    await c.take(1);
    c.close();
    await c.closedPromise;
    a.raw("show jobs").raw("status");
    expect(await a.take(4)).toEqual(['TEXT "H:t:1\\t0\\t1\\t0\\n"', 'TEXT ".\\n"', 'TEXT "f\\t1\\t0\\t0\\n"', 'TEXT ".\\n"']);
    const w = peer();
    w.send(P.CAN_DO, ["f"]).send(P.PRE_SLEEP).send(P.GRAB_JOB);
    // PRE_SLEEP already reaps the abandoned job, as gearmand does, so no NOOP is sent.
    expect(await w.take(1)).toEqual(["NO_JOB"]);
    a.raw("status");
    expect(await a.take(2)).toEqual(['TEXT "f\\t0\\t0\\t1\\n"', 'TEXT ".\\n"']);
  });

  it("a running job whose client left finishes silently", async () => {
    const peer = start();
    const c = peer();
    const w = peer();
    c.send(P.SUBMIT_JOB, ["f", "", "x"]);
    await c.take(1);
    w.send(P.CAN_DO, ["f"]).send(P.GRAB_JOB);
    await w.take(1);
    c.close();
    await c.closedPromise;
    w.send(P.WORK_DATA, ["H:t:1", "d"]).send(P.WORK_COMPLETE, ["H:t:1", "r"]).send(P.GET_STATUS, ["H:t:1"]);
    expect(await w.take(1)).toEqual(["STATUS_RES H:t:1|0|0|0|0"]);
  });

  it("a job stays wanted while another listener or a background submit still wants it", async () => {
    const peer = start();
    const c1 = peer();
    const c2 = peer();
    const bg = peer();
    c1.send(P.SUBMIT_JOB, ["f", "a", "x"]).send(P.SUBMIT_JOB, ["f", "b", "y"]);
    await c1.take(2);
    c2.send(P.SUBMIT_JOB, ["f", "a", "x"]);
    bg.send(P.SUBMIT_JOB_BG, ["f", "b", "y"]);
    await c2.take(1);
    await bg.take(1);
    c1.close();
    await c1.closedPromise;
    const w = peer();
    w.send(P.CAN_DO, ["f"]).send(P.GRAB_JOB).send(P.GRAB_JOB).send(P.WORK_COMPLETE, ["H:t:1", "r"]);
    // gearmand drops H:t:2 here: a background submit coalesced onto a foreground job is lost when that job's clients leave.
    expect(await w.take(2)).toEqual(["JOB_ASSIGN H:t:1|f|x", "JOB_ASSIGN H:t:2|f|y"]);
    expect(await c2.take(1)).toEqual(["WORK_COMPLETE H:t:1|r"]);
  });

  it("a worker that leaves while also listening to its own job leaves it queued and abandoned", async () => {
    const peer = start();
    const a = peer();
    const both = peer();
    both.send(P.CAN_DO, ["f"]).send(P.SUBMIT_JOB, ["f", "", "x"]).send(P.GRAB_JOB);
    expect(await both.take(2)).toEqual(["JOB_CREATED H:t:1", "JOB_ASSIGN H:t:1|f|x"]);
    both.close();
    await both.closedPromise;
    a.raw("show jobs");
    expect(await a.take(2)).toEqual(['TEXT "H:t:1\\t1\\t1\\t0\\n"', 'TEXT ".\\n"']);
  });
});

describe("job server: output and backpressure", () => {
  it("writes everything produced in one turn in one write", async () => {
    server = new JobServer();
    const t = new FakeTransport();
    server.attach(t);
    const chunk = new Uint8Array(10 * 13);
    for (let i = 0; i < 10; i++) chunk.set(encodePacket(P.ECHO_REQ, ["x"]), i * 13);
    t.sink!.data(chunk);
    await turn();
    expect(t.writes.length).toBe(1);
    expect(t.written).toBe(10 * 13);
  });

  it("stops reading from a congested connection until it drains, then flushes and resumes", async () => {
    server = new JobServer();
    const t = new FakeTransport(100);
    server.attach(t);
    t.sink!.data(encodePacket(P.ECHO_REQ, ["a".repeat(200)]));
    await turn();
    expect(t.paused).toBe(true);
    t.sink!.data(encodePacket(P.ECHO_REQ, ["b"]));
    await turn();
    expect(t.writes.length).toBe(1);
    t.limit = Infinity;
    t.sink!.drain();
    expect(t.paused).toBe(false);
    expect(t.writes.length).toBe(2);
  });

  it("disconnects a peer that lets more than maxOutputBuffer pile up; the worker feeding it is unaffected", async () => {
    server = new JobServer({ name: "t", maxOutputBuffer: 10_000 });
    const slow = new FakeTransport(1);
    server.attach(slow);
    slow.sink!.data(encodePacket(P.SUBMIT_JOB, ["f", "", "x"]));
    await turn();
    expect(slow.paused).toBe(true);
    const w = RawPeer.memory(server);
    w.send(P.CAN_DO, ["f"]).send(P.GRAB_JOB);
    await w.take(1);
    for (let i = 0; i < 20; i++) w.send(P.WORK_DATA, ["H:t:1", "d".repeat(1000)]);
    w.send(P.WORK_COMPLETE, ["H:t:1", "done"]).send(P.ECHO_REQ, ["alive"]);
    expect(await w.take(1)).toEqual(["ECHO_RES alive"]);
    expect(slow.closed).toBe(true);
    expect(slow.written).toBeLessThan(100);
    expect(server.stats).toEqual({ connections: 1, jobs: 0, functions: 1 });
  });

  it("serves a client that pipelines ECHOs while not reading, losing nothing, once it reads again", async () => {
    server = new JobServer();
    const c = RawPeer.memory(server, 32 * 1024);
    c.transport.pause();
    const big = "z".repeat(16 * 1024);
    for (let i = 0; i < 32; i++) c.send(P.ECHO_REQ, [big]);
    await new Promise((r) => setTimeout(r, 20));
    c.transport.resume();
    const got = await c.take(32, 5000);
    expect(got.every((r) => r === `ECHO_RES ${big}`)).toBe(true);
    expect(got.length).toBe(32);
  });
});

describe("job server: shutdown", () => {
  it("close() closes every connection and refuses new ones", async () => {
    const peer = start();
    const a = peer();
    const b = peer();
    a.send(P.ECHO_REQ, ["x"]);
    await a.take(1);
    server!.close();
    expect(await a.take(1)).toEqual(["CLOSED"]);
    expect(await b.take(1)).toEqual(["CLOSED"]);
    const t = new FakeTransport();
    server!.attach(t);
    expect(t.closed).toBe(true);
  });

  it("validates options with exact messages", () => {
    expect(() => new JobServer({ name: "has space" })).toThrow(/"name" must be 1 to 40 printable ASCII/);
    expect(() => new JobServer({ jobRetries: -1 })).toThrow('JobServer option "jobRetries" must be an integer of at least 0, got -1');
    expect(() => new JobServer({ maxPacketSize: 0 })).toThrow(/maxPacketSize/);
    expect(new JobServer().options.name).toBe("gearman-sdk");
  });
});
