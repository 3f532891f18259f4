// Node: bridge audit 4: coupled backpressure with non-ECHO traffic, slow-consumer timing, heartbeat both ways, no permessage-deflate (spec/bridge.md §2.1 items 10, 11, 14).
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { WebSocket } from "ws";
import type { BridgeLimits, BridgePolicy } from "../../bridge/bridge.ts";
import { PacketDecoder } from "../../src/protocol/decoder.ts";
import { encodePacket } from "../../src/protocol/packet.ts";
import { PacketType as T } from "../../src/protocol/packet-types.ts";
import { type BridgeEnv, bridgeEnv, bridgePeer, type Cleanups, gearmandPeer } from "../support/bridge-env.ts";
import { admin, argText, rssKiB, type TcpPeer, type WsPeer } from "../support/peers.ts";
import { sleep } from "./helpers.ts";

const POLICY: BridgePolicy = {
  tokens: {
    "tok-alice": { id: "alice", roles: ["client"], submit: ["tenantA.*"] },
    "tok-wa": { id: "workerA", roles: ["worker"], register: ["tenantA.*"] },
  },
};

type Env = BridgeEnv;
let cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const setup = (limits: BridgeLimits = {}, server?: Server): Promise<Env> => bridgeEnv(cleanups, { policy: POLICY, limits, server, real: true });
const peer = (env: Env, token: string, o: { autoPong?: boolean } = {}): Promise<WsPeer> => bridgePeer(cleanups, env, token, o);
const tcp = (env: Env): Promise<TcpPeer> => gearmandPeer(cleanups, env);

const connectionLog = (env: Env) => env.logs.find((e) => e.type === "connection");

/** Waits (polling every 10 ms, at most `ms`) for the connection log line; returns when it came. */
async function waitForLog(env: Env, ms: number): Promise<number | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (connectionLog(env)) return Date.now();
    await sleep(10);
  }
  return undefined;
}

/** A fast raw TCP worker: answers every job at once with `result` and grabs the next. */
async function fastWorker(port: number, fn: string, result: Uint8Array): Promise<{ socket: Socket; done: () => number }> {
  const socket = connect({ port, host: "127.0.0.1", noDelay: true });
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  socket.on("error", () => {});
  const decoder = new PacketDecoder({ expect: "res" });
  let done = 0;
  socket.on("data", (d: Buffer) => {
    for (const p of decoder.push(d)) {
      if (p.type === T.JOB_ASSIGN) {
        socket.write(encodePacket(T.WORK_COMPLETE, [p.args[0]!, result]));
        socket.write(encodePacket(T.GRAB_JOB, []));
        done++;
      } else if (p.type === T.NO_JOB) socket.write(encodePacket(T.PRE_SLEEP, []));
      else if (p.type === T.NOOP) socket.write(encodePacket(T.GRAB_JOB, []));
    }
  });
  socket.write(encodePacket(T.CAN_DO, [fn]));
  socket.write(encodePacket(T.GRAB_JOB, []));
  return { socket, done: () => done };
}

describe("bridge audit 4", () => {
  test("item 11: coupled backpressure with non-ECHO traffic keeps gearmand bounded while a non-reading client keeps submitting", async () => {
    const env = await setup({
      submitsPerSecond: 1_000_000, submitBurst: 1_000_000, maxJobsInFlight: 1_000_000,
      slowConsumerMs: 5000, closeGraceMs: 300,
    });
    const result = new Uint8Array(64 << 10).fill(0x61);
    const workers = await Promise.all([0, 1].map(() => fastWorker(env.g.port, "tenantA.big", result)));
    for (const w of workers) cleanups.push(() => void w.socket.destroy());
    const p = await peer(env, "tok-alice");
    // Warm-up round trip: gearmand's connection and the worker path are set up before the baseline is taken.
    p.send(T.SUBMIT_JOB, ["tenantA.big", "", "warm"]);
    expect((await p.next(T.WORK_COMPLETE, 5000)).args[1]!.length).toBe(64 << 10);
    await sleep(100);
    const gBefore = await rssKiB(env.g.pid);
    // The client stops reading its socket (not only its messages) and keeps submitting foreground jobs.
    p.ws.pause();
    const batch = Buffer.concat(Array.from({ length: 5 }, (_, i) => encodePacket(T.SUBMIT_JOB, ["tenantA.big", "", `job-${i}`])));
    let submitted = 0;
    const t = setInterval(() => {
      if (p.ws.readyState !== WebSocket.OPEN) return;
      p.ws.send(batch);
      submitted += 5;
    }, 10);
    cleanups.push(() => clearInterval(t));
    let gPeak = gBefore;
    const started = Date.now();
    while (Date.now() - started < 3000) {
      await sleep(100);
      gPeak = Math.max(gPeak, await rssKiB(env.g.pid));
    }
    clearInterval(t);
    const open = env.b.connections;
    const executed = workers.reduce((n, w) => n + w.done(), 0);
    const grewMiB = (gPeak - gBefore) / 1024;
    console.log(`item 11: submitted ${submitted} jobs in 3 s to a non-reading client; the workers ran ${executed}; ` +
      `gearmand RSS ${(gBefore / 1024).toFixed(1)} → peak ${(gPeak / 1024).toFixed(1)} MiB (+${grewMiB.toFixed(1)} MiB)`);
    // The scenario really submitted steadily, and the connection was still open during the whole measurement.
    expect(submitted).toBeGreaterThan(600);
    expect(open).toBe(1);
    // Coupled, gearmand holds at most what was in flight when the bridge stopped reading the client (measured +0 MiB,
    // ~90 of ~1500 jobs run); uncoupled it keeps taking submits, runs them all and buffers every 64 KiB result (+82 MiB).
    expect(grewMiB).toBeLessThan(16);
    expect(executed).toBeLessThan(submitted / 2);
    // Still stalled: closed as a slow consumer after slowConsumerMs above the high-water mark.
    expect(await waitForLog(env, 8000)).toBeDefined();
    const log = connectionLog(env);
    expect(log?.type === "connection" && [log.code, log.reason]).toEqual([1008, "slow consumer"]);
  }, 30_000);

  test("D3 lower bound: a slow consumer is not closed before slowConsumerMs above the high-water mark", async () => {
    const slowConsumerMs = 1500;
    const env = await setup({ slowConsumerMs, closeGraceMs: 100, maxPacketSize: 128 << 10 });
    const p = await peer(env, "tok-alice");
    const aliceUpstream = async (): Promise<boolean> => (await admin(env.g.port, "workers")).some((r) => / alice :/.test(r));
    expect(await aliceUpstream()).toBe(true);
    p.ws.pause();
    const chunk = encodePacket(T.ECHO_REQ, [new Uint8Array(64 << 10)]);
    // The stall cannot begin before the flood does, so every time below is measured from here (a conservative origin).
    const floodStart = Date.now();
    const t = setInterval(() => {
      while (p.ws.readyState === WebSocket.OPEN && p.ws.bufferedAmount < 1 << 20) p.ws.send(chunk);
    }, 5);
    cleanups.push(() => clearInterval(t));
    await sleep(1000 - (Date.now() - floodStart));
    // ~1000 ms in: the bridge must still relay this connection, and its upstream connection to gearmand must still be up.
    const at = Date.now() - floodStart;
    expect(env.b.connections).toBe(1);
    expect(connectionLog(env)).toBeUndefined();
    expect(await aliceUpstream()).toBe(true);
    // The upstream TCP closes the moment the bridge decides to close: find that moment within 25 ms.
    let upstreamGone: number | undefined;
    const deadline = floodStart + slowConsumerMs + 3000;
    while (Date.now() < deadline) {
      if (!(await aliceUpstream())) {
        upstreamGone = Date.now() - floodStart;
        break;
      }
      await sleep(25);
    }
    clearInterval(t);
    const logAt = await waitForLog(env, 2000);
    console.log(`D3 lower bound: open at ${at} ms after the flood began; upstream closed at ${upstreamGone} ms, ` +
      `log line at ${logAt === undefined ? "never" : logAt - floodStart} ms (slowConsumerMs ${slowConsumerMs})`);
    expect(upstreamGone).toBeDefined();
    expect(upstreamGone!).toBeGreaterThanOrEqual(slowConsumerMs);
    expect(upstreamGone!).toBeLessThan(slowConsumerMs + 2000);
    const log = connectionLog(env);
    expect(log?.type === "connection" && [log.code, log.reason]).toEqual([1008, "slow consumer"]);
  }, 30_000);

  test("B14 (item 10): a peer that never answers pings is terminated after 2 missed pongs, not earlier", async () => {
    const heartbeatMs = 200;
    const env = await setup({ heartbeatMs });
    const pings: number[] = [];
    const p = await peer(env, "tok-wa", { autoPong: false });
    const opened = Date.now();
    p.ws.on("ping", () => pings.push(Date.now()));
    p.send(T.CAN_DO, ["tenantA.hb"]);
    const c = await Promise.race([p.closed, sleep(5000).then(() => undefined)]);
    const closedAt = Date.now();
    const life = closedAt - opened;
    console.log(`B14: pings at ${pings.map((x) => x - opened).join(", ")} ms; terminated at ${life} ms (heartbeatMs ${heartbeatMs})`);
    expect(c?.code).toBe(1006);
    // Two pings went unanswered, then the third tick terminated the peer: one full interval after the second ping.
    expect(pings.length).toBe(2);
    expect(closedAt - pings[0]!).toBeGreaterThanOrEqual(2 * heartbeatMs - 30);
    expect(life).toBeGreaterThanOrEqual(2 * heartbeatMs - 50);
    expect(life).toBeLessThan(3 * heartbeatMs + 900);
    await waitForLog(env, 1000);
    const log = connectionLog(env);
    expect(log?.type === "connection" && log.reason).toMatch(/no pong/);
  }, 15_000);

  test("B14 (item 10): a worker that answers pings idles in PRE_SLEEP through many intervals, then gets NOOP and its job", async () => {
    const heartbeatMs = 200, firstPacketMs = 500;
    const env = await setup({ heartbeatMs, firstPacketMs });
    const w = await peer(env, "tok-wa");
    const opened = Date.now();
    let pings = 0;
    w.ws.on("ping", () => pings++);
    w.send(T.CAN_DO, ["tenantA.idle"]);
    w.send(T.PRE_SLEEP, []);
    // Idle: no traffic at all but pings and pongs for 12+ intervals (and well past firstPacketMs).
    const idleMs = 13 * heartbeatMs;
    const c = await Promise.race([w.closed, sleep(idleMs).then(() => undefined)]);
    const idled = Date.now() - opened;
    console.log(`B14 idle worker: ${pings} pings answered in ${idled} ms; ${c ? `closed ${c.code} ${c.reason}` : "still open"}`);
    expect(c).toBeUndefined();
    expect(idled).toBeGreaterThanOrEqual(12 * heartbeatMs);
    expect(idled).toBeGreaterThan(firstPacketMs);
    expect(pings).toBeGreaterThanOrEqual(8);
    expect(env.b.connections).toBe(1);
    expect(w.inbox.packets).toEqual([]);
    // Still a live worker: a job for its function wakes it.
    const client = await tcp(env);
    client.send(T.SUBMIT_JOB, ["tenantA.idle", "", "wake"]);
    const handle = argText(await client.next(T.JOB_CREATED), 0);
    expect((await w.next(T.NOOP, 2000)).type).toBe(T.NOOP);
    w.send(T.GRAB_JOB, []);
    const job = await w.next(T.JOB_ASSIGN, 2000);
    expect(argText(job, 0)).toBe(handle);
    expect(argText(job, 2)).toBe("wake");
    w.send(T.WORK_COMPLETE, [handle, "done"]);
    expect(argText(await client.next(T.WORK_COMPLETE), 1)).toBe("done");
  }, 15_000);

  test("item 14: the ws client offers permessage-deflate by default and the bridge negotiates nothing; ECHO works", async () => {
    // Mounted on a server of the test's own, so the offer in the request can be seen.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections()));
    const offers: (string | undefined)[] = [];
    server.on("upgrade", (req: IncomingMessage) => offers.push(req.headers["sec-websocket-extensions"]));
    const env = await setup({}, server);
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/gearman`;
    expect(env.b.url).toContain("/gearman");
    // No perMessageDeflate option: the ws client's default (offered) applies.
    const ws = new WebSocket(url, ["gearman.v1", "bearer.tok-alice"]);
    cleanups.push(() => ws.terminate());
    let answered: string | undefined;
    ws.on("upgrade", (res) => (answered = res.headers["sec-websocket-extensions"]));
    await new Promise<void>((resolve, reject) => ws.once("open", resolve).once("error", reject));
    expect(offers).toHaveLength(1);
    expect(offers[0]).toMatch(/permessage-deflate/);
    expect(answered).toBeUndefined();
    expect(ws.extensions).toBe("");
    expect(ws.protocol).toBe("gearman.v1");
    const decoder = new PacketDecoder({ expect: "res" });
    const payload = "x".repeat(4096);
    const reply = new Promise<string>((resolve) => ws.on("message", (d: Buffer) => {
      const p = decoder.push(new Uint8Array(d)).find((q) => q.type === T.ECHO_RES);
      if (p) resolve(argText(p, 0));
    }));
    ws.send(encodePacket(T.ECHO_REQ, [payload]));
    expect(await Promise.race([reply, sleep(3000).then(() => "timeout")])).toBe(payload);
  }, 15_000);
});
