// Node: defects found by the third bridge audit, each against a real bridge and a real gearmand 1.1.20.
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { type BridgeLogEntry, type BridgePolicy, startBridge } from "../../bridge/bridge.ts";
import { PacketType as T } from "../../src/protocol/packet-types.ts";
import { startBridgeProcess } from "../support/bridge-process.ts";
import { type Gearmand, startGearmand } from "../support/gearmand.ts";
import { admin, argText, openPeer, tcpPeer, upgradeStatus, type WsPeer } from "../support/peers.ts";

const POLICY: BridgePolicy = {
  tokens: {
    "tok-a": { id: "alice", roles: ["client"], submit: ["t.*"] },
    "tok-w": { id: "wa", roles: ["worker"], register: ["t.*"] },
    "tok-both": { id: "both", roles: ["client", "worker"], submit: ["t.*"], register: ["t.*"] },
  },
};

let cleanups: (() => Promise<void> | void)[] = [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
// Each step bounded: a bridge with one of these defects may never finish closing, and gearmand must still be stopped.
afterEach(async () => {
  for (const c of cleanups.reverse()) await Promise.race([c(), sleep(5000)]);
  cleanups = [];
});

async function gearmand(): Promise<Gearmand> {
  const g = await startGearmand({ args: ["--threads=0"], real: true });
  cleanups.push(() => g.stop());
  return g;
}

async function bridge(limits = {}, logger: (e: BridgeLogEntry) => void = () => {}) {
  const g = await gearmand();
  const b = await startBridge({ upstream: g.address, policy: POLICY, limits, logger });
  cleanups.push(() => b.close());
  return { g, b };
}

async function peer(url: string, token: string): Promise<WsPeer> {
  const p = await openPeer(url, { token });
  cleanups.push(() => p.ws.terminate());
  return p;
}

/** The first bytes of the bridge's answer to a raw HTTP request. */
function rawHttp(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ port, host: "127.0.0.1" });
    let out = "";
    const done = (): void => (s.destroy(), resolve(out));
    s.on("data", (d) => (out += d)).on("close", done).on("error", done);
    s.write(request);
    setTimeout(done, 2000);
  });
}

/** How `p` closed, or "open" when it did not within `ms`. */
const closedWithin = (p: WsPeer, ms = 3000): Promise<unknown> => Promise.race([p.closed, sleep(ms).then(() => "open")]);

const alive = (g: Gearmand): Promise<boolean> => tcpPeer(g.port).then((p) => (p.close(), true), () => false);

describe("third bridge audit", () => {
  test("a CAN_DO_TIMEOUT of 2^64 seconds or more aborts gearmand 1.1.20: the bridge allows at most 9 digits", async () => {
    const { g, b } = await bridge();
    const w = await peer(b.url, "tok-w");
    w.send(T.CAN_DO_TIMEOUT, ["t.f", "18446744073709551616"]);
    expect(await closedWithin(w)).toEqual({ code: 1008, reason: "CAN_DO_TIMEOUT needs a timeout of 1 to 9 digits" });
    await sleep(200);
    expect(await alive(g)).toBe(true);
    // A timeout of 9 digits (31 years) still passes and registers the function.
    const ok = await peer(b.url, "tok-w");
    ok.send(T.CAN_DO_TIMEOUT, ["t.f", "999999999"]);
    ok.send(T.ECHO_REQ, ["after"]);
    expect(argText(await ok.next(T.ECHO_RES), 0)).toBe("after");
  });

  test("CAN_DO_TIMEOUT reaches gearmand as CAN_DO: its per-connection timer, which requeues freed jobs, is never armed", async () => {
    const { g, b } = await bridge();
    const w = await peer(b.url, "tok-w");
    w.send(T.CAN_DO_TIMEOUT, ["t.slow", "1000"]);
    const c = await tcpPeer(g.port);
    cleanups.push(() => c.close());
    c.send(T.SUBMIT_JOB, ["t.slow", "", "x"]);
    const handle = argText(await c.next(T.JOB_CREATED), 0);
    w.send(T.GRAB_JOB, []);
    expect(argText(await w.next(T.JOB_ASSIGN), 0)).toBe(handle);
    // Held past the 1 s the peer asked for: gearmand does not take it back (no timer), so the late result is the job's.
    await sleep(1600);
    w.send(T.WORK_COMPLETE, [handle, "late but whole"]);
    expect(argText(await c.next(T.WORK_COMPLETE), 1)).toBe("late but whole");
    expect(g.log()).not.toMatch(/Worker timeout reached/);
  });

  test("an upgrade whose request-target is not a URL path gets 404, and the bridge process stays up", async () => {
    const g = await gearmand();
    const b = await startBridgeProcess({ upstream: g.address, policy: POLICY });
    cleanups.push(() => b.close());
    const upgrade = "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: gearman.v1, bearer.tok-a\r\n\r\n";
    for (const target of ["//[", "http://[::1/gearman"]) {
      expect(await rawHttp(b.port, `GET ${target} HTTP/1.1\r\n${upgrade}`)).toMatch(/^HTTP\/1.1 404/);
    }
    expect(await rawHttp(b.port, `GET /gearman?x=1 HTTP/1.1\r\n${upgrade}`)).toMatch(/^HTTP\/1.1 101/);
    expect(await upgradeStatus(b.url, { token: "tok-a" })).toBe(101);
  });

  test("maxJobsInFlight: only an ERROR that answers a foreground submit frees a place (not OPTION_REQ's, a background submit's or a WORK_*'s)", async () => {
    const { g, b } = await bridge({ maxJobsInFlight: 2 });
    const a = await peer(b.url, "tok-a");
    // A queue that is full: background and foreground submits to it get ERROR QUEUE_ERROR.
    a.send(T.SUBMIT_JOB_BG, ["t.full", "", "fill"]);
    await a.next(T.JOB_CREATED);
    expect(await admin(g.port, "maxqueue t.full 1")).toEqual(["OK\r"]);
    a.send(T.SUBMIT_JOB, ["t.full", "", "x"]);
    expect(argText(await a.next(T.ERROR), 0)).toBe("QUEUE_ERROR");
    // That foreground submit ended, so two jobs fit.
    for (let i = 0; i < 2; i++) a.send(T.SUBMIT_JOB, ["t.wait", "", `j${i}`]);
    for (let i = 0; i < 2; i++) await a.next(T.JOB_CREATED);
    a.send(T.OPTION_REQ, ["no-such-option"]);
    expect(argText(await a.next(T.ERROR), 0)).toBe("UNKNOWN_OPTION");
    a.send(T.SUBMIT_JOB_BG, ["t.full", "", "x"]);
    expect(argText(await a.next(T.ERROR), 0)).toBe("QUEUE_ERROR");
    a.send(T.SUBMIT_JOB, ["t.wait", "", "over"]);
    expect(await closedWithin(a)).toEqual({ code: 1008, reason: "more than 2 foreground jobs in flight" });
    const both = await peer(b.url, "tok-both");
    for (let i = 0; i < 2; i++) both.send(T.SUBMIT_JOB, ["t.wait", "", `k${i}`]);
    for (let i = 0; i < 2; i++) await both.next(T.JOB_CREATED);
    both.send(T.WORK_FAIL, ["H:nobody:1"]);
    expect(argText(await both.next(T.ERROR), 0)).toBe("JOB_NOT_FOUND");
    both.send(T.SUBMIT_JOB, ["t.wait", "", "over"]);
    expect(await closedWithin(both)).toEqual({ code: 1008, reason: "more than 2 foreground jobs in flight" });
  });

  test("a principal's exp that is not a number stops the start (it would never expire); an expired one gets 401", async () => {
    const g = await gearmand();
    const start = (exp: unknown) => startBridge({ upstream: g.address, logger: () => {},
      policy: { tokens: { t: { id: "x", roles: ["client"], exp: exp as number } } } });
    await expect(start("2020-01-01T00:00:00Z")).rejects.toThrow(/exp/);
    const b = await start(Math.floor(Date.now() / 1000) - 10);
    cleanups.push(() => b.close());
    expect(await upgradeStatus(b.url, { token: "t" })).toBe(401);
    // A custom verify is held to the same rule.
    const v = await startBridge({ upstream: g.address, logger: () => {},
      policy: { verify: async () => ({ id: "x", roles: ["client"], exp: "soon" as never }) } });
    cleanups.push(() => v.close());
    expect(await upgradeStatus(v.url, { token: "t" })).toBe(500);
  });

  test("a logger that throws on a refused upgrade neither leaves the peer hanging nor rejects a promise unhandled", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): number => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    cleanups.push(() => void process.off("unhandledRejection", onUnhandled));
    const { b } = await bridge({}, () => {
      throw new Error("logger bug");
    });
    const status = await Promise.race([upgradeStatus(b.url, { token: "wrong" }), sleep(3000).then(() => "no answer")]);
    expect(status).toBe(401);
    await sleep(100);
    expect(unhandled).toEqual([]);
    expect(await upgradeStatus(b.url, { token: "tok-a" })).toBe(101);
  });

  test("tiny messages from one principal do not stall the bridge for everyone (one upstream write per read, not per message)", async () => {
    const g = await gearmand();
    const b = await startBridgeProcess({ upstream: g.address, policy: POLICY });
    cleanups.push(() => b.close());
    const victim = await peer(b.url, "tok-a");
    // Four connections of another principal send 12-byte ECHO_REQ messages as fast as the bridge reads them, for at most 15 s.
    const flood = `const { WebSocket } = require("ws");
      const msg = Buffer.from([0, 0x52, 0x45, 0x51, 0, 0, 0, 16, 0, 0, 0, 0]);
      for (let k = 0; k < 4; k++) {
        const ws = new WebSocket(process.argv[1], ["gearman.v1", "bearer.tok-both"], { perMessageDeflate: false });
        ws.on("open", () => setInterval(() => { if (ws.bufferedAmount < 1 << 20) for (let i = 0; i < 2000; i++) ws.send(msg); }, 1));
      }
      setTimeout(() => process.exit(0), 15000);`;
    const child = spawn(process.execPath, ["-e", flood, b.url], { stdio: "ignore" });
    cleanups.push(() => void child.kill());
    await sleep(1000);
    expect((await b.stats()).connections).toBe(5);
    await b.stats({ resetLag: true });
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      victim.send(T.ECHO_REQ, ["still there?"]);
      await victim.next(T.ECHO_RES, 8000).catch(() => {});
      times.push(Date.now() - t0);
    }
    const { lagMax } = await b.stats();
    // Measured on 2 cores: 2.4-3.4 s turns of the event loop and 6-8 s echoes with a write per message; 20-35 ms and 18 ms
    // corked. The bound leaves room for the rest of the suite running beside it on the same 2 cores.
    expect({ lagUnder2s: lagMax < 2000, echoesUnder2s: times.every((t) => t < 2000) }).toEqual({ lagUnder2s: true, echoesUnder2s: true });
  });
});
