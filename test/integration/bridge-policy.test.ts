// Node: test-plan sections B (bridge policy), C7-C9 and D1-D3 against a real gearmand and a real bridge.
import { fork } from "node:child_process";
import { createHmac } from "node:crypto";
import { connect, createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test, vi } from "vitest";
import { WebSocket } from "ws";
import { main } from "../../bridge/cli.ts";
import { PolicyError } from "../../src/errors.ts";
import { websocketConnector } from "../../src/transports/websocket.ts";
import { type Bridge, type BridgeLimits, type BridgeLogEntry, type BridgePolicy, signToken, startBridge } from "../../bridge/bridge.ts";
import { PacketDecoder } from "../../src/protocol/decoder.ts";
import { encodePacket, PacketWriter } from "../../src/protocol/packet.ts";
import { PacketType as T } from "../../src/protocol/packet-types.ts";
import { serverKind, startGearmand } from "../support/gearmand.ts";
import { type BridgeEnv, bridgeEnv, bridgePeer, type Cleanups, gearmandPeer } from "../support/bridge-env.ts";
import { waitFor } from "./helpers.ts";
import { admin, argText, openPeer, retainedBytes, rssKiB, type TcpPeer, tcpPeer, upgradeStatus, type WsPeer } from "../support/peers.ts";

const SECRET = "a-test-secret-of-at-least-32-bytes!!";
const ORIGIN = "http://app.test";
const POLICY: BridgePolicy = {
  origins: [ORIGIN],
  tokens: {
    "tok-alice": { id: "alice", roles: ["client"], submit: ["tenantA.*", "shared"] },
    "tok-bob": { id: "bob", roles: ["client"], submit: ["tenantB.*", "shared"] },
    "tok-wa": { id: "workerA", roles: ["worker"], register: ["tenantA.*", "shared"] },
  },
  hmac: { secret: SECRET },
};

type Env = BridgeEnv;
let cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const setup = (limits: BridgeLimits = {}, args: string[] = ["--threads=0"], policy: BridgePolicy = POLICY): Promise<Env> =>
  bridgeEnv(cleanups, { limits, args, policy });
const peer = (env: Env, token: string, o: { autoPong?: boolean } = {}): Promise<WsPeer> => bridgePeer(cleanups, env, token, o);
const tcp = (env: Env): Promise<TcpPeer> => gearmandPeer(cleanups, env);

async function statusNames(env: Env): Promise<string[]> {
  return (await admin(env.g.port, "status")).map((l) => l.split("\t")[0]!);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function expectClose(p: WsPeer, code: number, reason?: string | RegExp): Promise<void> {
  const c = await p.closed;
  expect(c.code).toBe(code);
  if (reason !== undefined) expect(c.reason).toMatch(reason);
}

describe("B: bridge policy", () => {
  test("B1: no token / wrong token / foreign Origin → 401 / 401 / 403 before the upgrade", async () => {
    const env = await setup();
    const url = env.b.url;
    expect(await upgradeStatus(url, {})).toBe(401);
    expect(await upgradeStatus(url, { token: "nope" })).toBe(401);
    expect(await upgradeStatus(url, { token: "tok-alice", origin: "https://evil.example" })).toBe(403);
    // The log keeps 256 characters of an Origin: a peer's 4 KB header must not become 4 KB of log per attempt.
    expect(await upgradeStatus(url, { token: "tok-alice", origin: `https://${"x".repeat(4000)}.example` })).toBe(403);
    expect(await upgradeStatus(url, { token: "tok-alice", origin: ORIGIN })).toBe(101);
    expect(await upgradeStatus(url, { token: "tok-alice" })).toBe(101);
    const exp = Math.floor(Date.now() / 1000) + 60;
    const good = signToken({ sub: "carol", roles: ["client"], submit: ["tenantA.*"], exp }, SECRET);
    expect(await upgradeStatus(url, { token: good })).toBe(101);
    expect(await upgradeStatus(url, { token: signToken({ sub: "carol", roles: ["client"], exp }, "another-secret") })).toBe(401);
    expect(await upgradeStatus(url, { token: signToken({ sub: "carol", roles: ["client"], exp: exp - 120 }, SECRET) })).toBe(401);
    expect(await upgradeStatus(url, { token: `${good.slice(0, -2)}xx` })).toBe(401);
    // A string where a list belongs would be read character by character, so "*" would allow all.
    expect(await upgradeStatus(url, { token: signToken({ sub: "carol", roles: ["client"], submit: "x*" as never, exp }, SECRET) })).toBe(401);
    // The server answers gearman.v1, never the bearer subprotocol.
    const p = await peer(env, "tok-alice");
    expect(p.ws.protocol).toBe("gearman.v1");
    const rejectedStatuses = (): number[] => env.logs.filter((e) => e.type === "rejected").map((e) => (e.type === "rejected" ? e.status : 0));
    // Log lines are written when each rejected socket finishes closing, which a loaded machine may delay.
    for (let waited = 0; rejectedStatuses().length < 8 && waited < 3000; waited += 20) await sleep(20);
    expect(rejectedStatuses()).toEqual([401, 401, 403, 403, 401, 401, 401, 401]);
    expect(Math.max(...env.logs.map((e) => (e.type === "packet" ? 0 : (e.origin?.length ?? 0))))).toBe(256);
    expect(JSON.stringify(env.logs)).not.toMatch(/tok-alice|bearer|eyJ/);
  });

  test("B1: a signed token passes only with the verifier's audience, HS256 and a usable principal", async () => {
    const env = await setup({}, undefined, { ...POLICY, hmac: { secret: SECRET, audience: "jobs" } });
    const exp = Math.floor(Date.now() / 1000) + 60;
    const sign = (claims: object): string => signToken({ sub: "dave", roles: ["client"], exp, ...claims } as never, SECRET);
    expect(await upgradeStatus(env.b.url, { token: sign({ aud: "jobs" }) })).toBe(101);
    expect(await upgradeStatus(env.b.url, { token: sign({ aud: "other" }) })).toBe(401);
    expect(await upgradeStatus(env.b.url, { token: sign({}) })).toBe(401);
    expect(await upgradeStatus(env.b.url, { token: sign({ aud: "jobs", roles: undefined }) })).toBe(401);
    expect(await upgradeStatus(env.b.url, { token: sign({ aud: "jobs", exp: "never" }) })).toBe(401);
    // A correctly signed token whose header names another algorithm is refused.
    const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString("base64url");
    const body = `${b64({ alg: "none" })}.${b64({ sub: "dave", roles: ["client"], exp, aud: "jobs" })}`;
    const none = `${body}.${createHmac("sha256", SECRET).update(body).digest("base64url")}`;
    expect(await upgradeStatus(env.b.url, { token: none })).toBe(401);
    // A signed sub that names a static principal would share its uniques (and so its results) and its caps.
    expect(await upgradeStatus(env.b.url, { token: sign({ aud: "jobs", sub: "alice" }) })).toBe(401);
    expect(await upgradeStatus(env.b.url, { token: "tok-alice" })).toBe(101);
  });

  test("B2: CAN_DO from a client-role principal → 1008", async () => {
    const env = await setup();
    const p = await peer(env, "tok-alice");
    p.send(T.CAN_DO, ["tenantA.x"]);
    await expectClose(p, 1008, "packet type 1 not allowed for client");
    expect(await statusNames(env)).not.toContain("tenantA.x");
  });

  test("B4: a text frame → 1003; binary admin text or \\0RES → 1002; types ≥ 43 and unlisted types → 1008", async () => {
    const env = await setup();
    const a = await peer(env, "tok-alice");
    a.ws.send("status\n");
    await expectClose(a, 1003, /text frames/);
    const b = await peer(env, "tok-alice");
    b.ws.send(Buffer.from("workers\n"));
    await expectClose(b, 1002, /\\0REQ/);
    const c = await peer(env, "tok-alice");
    c.ws.send(encodePacket(T.ECHO_RES, ["x"], "res"));
    await expectClose(c, 1002);
    const d = await peer(env, "tok-alice");
    d.ws.send(Buffer.from([0, 0x52, 0x45, 0x51, 0, 0, 0, 43, 0, 0, 0, 0]));
    await expectClose(d, 1008, /unknown packet type 43/);
    const e = await peer(env, "tok-alice");
    e.send(T.ALL_YOURS, []);
    await expectClose(e, 1008, /packet type 24 not allowed for client/);
  });

  test("B5: forbidden functions, NUL, empty and long names, long uniques → 1008 with the reason", async () => {
    const env = await setup();
    const cases: [string, number, (string | Uint8Array)[], RegExp][] = [
      ["tok-alice", T.SUBMIT_JOB, ["tenantB.secret", "", "x"], /submit of function tenantB.secret not allowed/],
      ["tok-alice", T.SUBMIT_JOB_BG, ["other", "", "x"], /not allowed/],
      ["tok-alice", T.SUBMIT_JOB_EPOCH, ["tenantA.x", "", "9999999999", "x"], /SUBMIT_JOB_EPOCH/],
      ["tok-alice", T.SUBMIT_JOB_SCHED, ["tenantA.x", "", "1", "1", "1", "1", "1", "x"], /packet type 35 not allowed/],
      ["tok-alice", T.SUBMIT_REDUCE_JOB, ["tenantA.map", "", "tenantB.reduce", "", "x"], /tenantB.reduce not allowed/],
      ["tok-wa", T.CAN_DO, ["tenantB.secret"], /register of function tenantB.secret not allowed/],
      ["tok-wa", T.CAN_DO, [new Uint8Array([0x74, 0x65, 0x6e, 0x61, 0x6e, 0x74, 0x41, 0x2e, 0x78, 0])], /NUL/],
      ["tok-wa", T.CAN_DO_TIMEOUT, ["tenantA.x", "soon"], /timeout/],
      ["tok-alice", T.SUBMIT_JOB, ["", "", "x"], /empty/],
      ["tok-alice", T.SUBMIT_JOB, [`tenantA.${"n".repeat(510)}`, "", "x"], /512/],
      ["tok-alice", T.SUBMIT_JOB, ["tenantA.x", "u".repeat(65), "x"], /unique is 65 bytes/],
      ["tok-alice", T.SUBMIT_JOB, ["tenantA.x", "u".repeat(60), "x"], /principal prefix/],
      ["tok-alice", T.SUBMIT_JOB, ["tenantA.x", "-", "x"], /coalesce by payload/],
    ];
    for (const [token, type, args, reason] of cases) {
      const p = await peer(env, token);
      p.send(type, args);
      await expectClose(p, 1008, reason);
    }
    const names = await statusNames(env);
    expect(names.filter((n) => n.startsWith("tenant"))).toEqual([]);
    // A reduce job whose two names pass is allowed.
    const ok = await peer(env, "tok-alice");
    ok.send(T.SUBMIT_REDUCE_JOB_BACKGROUND, ["tenantA.map", "", "tenantA.reduce", "", "x"]);
    expect((await ok.next(T.JOB_CREATED)).type).toBe(T.JOB_CREATED);
  });

  test("B6: a 2 MiB message with a 1 MiB limit, and a header claiming 4 GiB → 1009", async () => {
    const env = await setup({ maxPacketSize: 1 << 20 });
    const a = await peer(env, "tok-alice");
    a.send(T.ECHO_REQ, [new Uint8Array(2 << 20)]);
    await expectClose(a, 1009);
    const b = await peer(env, "tok-alice");
    b.ws.send(Buffer.from([0, 0x52, 0x45, 0x51, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff]));
    await expectClose(b, 1009, /4294967295/);
    const c = await peer(env, "tok-alice");
    c.send(T.ECHO_REQ, [new Uint8Array((1 << 20) - 100)]);
    expect((await c.next(T.ECHO_RES)).args[0]!.length).toBe((1 << 20) - 100);
  });

  test("B7: half a packet in a message → 1002, and nothing of that message reaches gearmand", async () => {
    const env = await setup();
    const a = await peer(env, "tok-alice");
    a.ws.send(encodePacket(T.SUBMIT_JOB, ["tenantA.half", "", "payload"]).subarray(0, 15));
    await expectClose(a, 1002, /inside a packet/);
    const b = await peer(env, "tok-alice");
    const whole = encodePacket(T.SUBMIT_JOB_BG, ["tenantA.whole", "", "x"]);
    const half = encodePacket(T.SUBMIT_JOB_BG, ["tenantA.half2", "", "x"]).subarray(0, 20);
    b.ws.send(Buffer.concat([whole, half]));
    await expectClose(b, 1002);
    expect((await statusNames(env)).filter((n) => n.startsWith("tenantA"))).toEqual([]);
  });

  test("B8: uniques are namespaced per principal: B never gets A's job or result", async () => {
    const env = await setup();
    const alice = await peer(env, "tok-alice");
    const alice2 = await peer(env, "tok-alice");
    const bob = await peer(env, "tok-bob");
    alice.send(T.SUBMIT_JOB, ["shared", "same", "from-alice"]);
    const ha = argText(await alice.next(T.JOB_CREATED), 0);
    bob.send(T.SUBMIT_JOB, ["shared", "same", "from-bob"]);
    const hb = argText(await bob.next(T.JOB_CREATED), 0);
    expect(hb).not.toBe(ha);
    // The same principal still coalesces on its own unique.
    alice2.send(T.SUBMIT_JOB, ["shared", "same", "again"]);
    expect(argText(await alice2.next(T.JOB_CREATED), 0)).toBe(ha);
    const w = await tcp(env);
    w.send(T.CAN_DO, ["shared"]);
    const seen = new Map<string, string>();
    for (let i = 0; i < 2; i++) {
      w.send(T.GRAB_JOB_UNIQ, []);
      const job = await w.next(T.JOB_ASSIGN_UNIQ);
      seen.set(argText(job, 2), argText(job, 0));
      w.send(T.WORK_COMPLETE, [argText(job, 0), `result-for-${argText(job, 3)}`]);
    }
    expect([...seen.keys()].sort()).toEqual(["alice:same", "bob:same"]);
    expect(argText(await alice.next(T.WORK_COMPLETE), 1)).toBe("result-for-from-alice");
    expect(argText(await alice2.next(T.WORK_COMPLETE), 1)).toBe("result-for-from-alice");
    expect(argText(await bob.next(T.WORK_COMPLETE), 1)).toBe("result-for-from-bob");
    await sleep(50);
    expect(bob.inbox.packets).toEqual([]);
    // GET_STATUS_UNIQUE is namespaced too, and the reply shows the peer's own unique.
    bob.send(T.SUBMIT_JOB_BG, ["shared", "later", "x"]);
    await bob.next(T.JOB_CREATED);
    bob.send(T.GET_STATUS_UNIQUE, ["later"]);
    const st = await bob.next(T.STATUS_RES_UNIQUE);
    expect([argText(st, 0), argText(st, 1)]).toEqual(["later", "1"]);
    alice.send(T.GET_STATUS_UNIQUE, ["later"]);
    expect(argText(await alice.next(T.STATUS_RES_UNIQUE), 1)).toBe("0");
  });

  test("B9: GET_STATUS on a handle this connection did not create → ERROR, in order, connection open", async () => {
    const env = await setup();
    const alice = await peer(env, "tok-alice");
    const bob = await peer(env, "tok-bob");
    bob.send(T.SUBMIT_JOB_BG, ["tenantB.job", "", "x"]);
    const foreign = argText(await bob.next(T.JOB_CREATED), 0);
    const w = new PacketWriter();
    w.write(T.SUBMIT_JOB_BG, ["tenantA.job", "", "x"]);
    w.write(T.GET_STATUS, [foreign]);
    w.write(T.ECHO_REQ, ["after"]);
    alice.ws.send(w.take());
    const replies = [await alice.next(), await alice.next(), await alice.next()];
    expect(replies.map((p) => p.type)).toEqual([T.JOB_CREATED, T.ERROR, T.ECHO_RES]);
    expect(argText(replies[1]!, 0)).toBe("PERMISSION_DENIED");
    alice.send(T.GET_STATUS, [argText(replies[0]!, 0)]);
    const own = await alice.next(T.STATUS_RES);
    expect(argText(own, 1)).toBe("1");
  });

  test("the connection's log line: exact packet counts and bytes both ways, who and from where, never payloads, uniques, handles or tokens", async () => {
    const env = await setup();
    const t0 = Date.now();
    const p = await openPeer(env.b.url, { token: "tok-alice", origin: ORIGIN });
    cleanups.push(() => p.ws.terminate());
    p.send(T.ECHO_REQ, ["ab"]);
    p.send(T.ECHO_REQ, ["cd"]);
    p.send(T.SUBMIT_JOB_BG, ["tenantA.log", "secret-u", "secret-p"]);
    await p.next(T.ECHO_RES);
    await p.next(T.ECHO_RES);
    const handle = argText(await p.next(T.JOB_CREATED), 0);
    p.ws.close(1000, "bye");
    await p.closed;
    await waitFor(() => env.logs.some((e) => e.type === "connection"));
    const line = env.logs.find((e) => e.type === "connection")!;
    expect(line).toEqual({
      type: "connection", principal: "alice", origin: ORIGIN, remote: "127.0.0.1", durationMs: expect.any(Number), code: 1000,
      reason: "bye", packetsIn: { ECHO_REQ: 2, SUBMIT_JOB_BG: 1 }, packetsOut: { ECHO_RES: 2, JOB_CREATED: 1 },
      bytesIn: 2 * (12 + 2) + 12 + "tenantA.log\0secret-u\0secret-p".length, bytesOut: 2 * (12 + 2) + 12 + handle.length, denials: {},
    });
    expect(line.type === "connection" && line.durationMs).toBeLessThanOrEqual(Date.now() - t0);
    expect(JSON.stringify(env.logs)).not.toMatch(new RegExp(`secret|tok-alice|${handle}`));
  });

  test("B10: SET_CLIENT_ID from a peer is dropped; `workers` shows the bridge-assigned id", async () => {
    const env = await setup();
    const w = await peer(env, "tok-wa");
    w.send(T.SET_CLIENT_ID, ["mallory"]);
    w.send(T.CAN_DO, ["tenantA.attr"]);
    w.send(T.ECHO_REQ, ["ping"]);
    await w.next(T.ECHO_RES);
    const rows = await admin(env.g.port, "workers");
    expect(rows.some((r) => / workerA : tenantA\.attr$/.test(r))).toBe(true);
    expect(rows.join("\n")).not.toContain("mallory");
    w.ws.close();
    await w.closed;
    await sleep(50);
    const log = env.logs.find((e) => e.type === "connection");
    expect(log?.type === "connection" && log.denials).toEqual({ "SET_CLIENT_ID is set by the bridge": 1 });
  });

  test("B11: connection caps per principal and per IP → 429, global → 503", async () => {
    const env = await setup({ maxConnectionsPerPrincipal: 2, maxConnectionsPerIp: 3 });
    const a1 = await peer(env, "tok-alice");
    await peer(env, "tok-alice");
    expect(await upgradeStatus(env.b.url, { token: "tok-alice" })).toBe(429);
    await peer(env, "tok-bob");
    expect(await upgradeStatus(env.b.url, { token: "tok-bob" })).toBe(429);
    a1.ws.close();
    await a1.closed;
    await sleep(50);
    expect(await upgradeStatus(env.b.url, { token: "tok-alice" })).toBe(101);
    const b2 = await startBridge({ upstream: env.g.address, policy: POLICY, limits: { maxConnections: 1 }, logger: () => {} });
    cleanups.push(() => b2.close());
    const only = await openPeer(b2.url, { token: "tok-bob" });
    cleanups.push(() => only.ws.terminate());
    expect(await upgradeStatus(b2.url, { token: "tok-bob" })).toBe(503);
  });

  test("B11b: behind a trusted proxy the per-IP cap counts X-Forwarded-For's client (also on a dual-stack listener); otherwise the direct peer", async () => {
    const g = await startGearmand({ args: ["--threads=0"] });
    cleanups.push(() => g.stop());
    const xff = (chain: string): { token: string; headers: Record<string, string> } => ({ token: "tok-alice", headers: { "X-Forwarded-For": chain } });
    for (const host of ["127.0.0.1", "::"]) {
      const logs: BridgeLogEntry[] = [];
      const b = await startBridge({ upstream: g.address, host, policy: { ...POLICY, trustedProxies: ["127.0.0.1"] },
        limits: { maxConnectionsPerIp: 1 }, logger: (e) => logs.push(e) });
      cleanups.push(() => b.close());
      const url = `ws://127.0.0.1:${b.port}/gearman`;
      const first = await openPeer(url, xff("203.0.113.7"));
      cleanups.push(() => first.ws.terminate());
      // Another client behind the same proxy has a cap of its own; the same client again is over it.
      expect(await upgradeStatus(url, xff("203.0.113.8")), host).toBe(101);
      expect(await upgradeStatus(url, xff("203.0.113.7")), host).toBe(429);
      // A client cannot escape by prepending entries: the rightmost address the proxy did not add is the one counted.
      expect(await upgradeStatus(url, xff("198.51.100.1, 203.0.113.7")), host).toBe(429);
      expect(logs.filter((e) => e.type === "rejected").map((e) => e.remote)).toEqual(["203.0.113.7", "203.0.113.7"]);
    }
    const direct = await startBridge({ upstream: g.address, policy: POLICY, limits: { maxConnectionsPerIp: 1 }, logger: () => {} });
    cleanups.push(() => direct.close());
    const one = await openPeer(direct.url, xff("203.0.113.7"));
    cleanups.push(() => one.ws.terminate());
    // No trusted proxies: the header is the client's own claim and is ignored.
    expect(await upgradeStatus(direct.url, xff("203.0.113.9"))).toBe(429);
  });

  test("B12: submits above the rate limit → 1008 \"rate limit\", nothing of that message forwarded", async () => {
    const env = await setup({ submitsPerSecond: 5, submitBurst: 5 });
    const a = await peer(env, "tok-alice");
    const w = new PacketWriter();
    for (let i = 0; i < 4; i++) w.write(T.SUBMIT_JOB_BG, ["tenantA.rl", "", "x"]);
    a.ws.send(w.take());
    for (let i = 0; i < 4; i++) await a.next(T.JOB_CREATED);
    for (let i = 0; i < 4; i++) w.write(T.SUBMIT_JOB_BG, ["tenantA.rl2", "", "x"]);
    a.ws.send(w.take());
    await expectClose(a, 1008, "rate limit");
    expect(await statusNames(env)).not.toContain("tenantA.rl2");
  });

  test("B13: upgrade headers dribbled 1 byte at a time → socket closed at headersTimeout", async () => {
    const env = await setup({ headersTimeoutMs: 1000 });
    const port = Number(new URL(env.b.url).port);
    const start = Date.now();
    const closedAfter = await new Promise<number>((resolve) => {
      const s = connect({ port, host: "127.0.0.1" });
      const head = "GET /gearman HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nX-Slow: ";
      let i = 0;
      const t = setInterval(() => s.write(i < head.length ? head[i++]! : "a"), 100);
      s.on("error", () => {});
      s.on("close", () => {
        clearInterval(t);
        resolve(Date.now() - start);
      });
    });
    expect(closedAfter).toBeGreaterThanOrEqual(900);
    expect(closedAfter).toBeLessThan(4000);
  });

  test("B14: a peer that never pongs is terminated after 2 intervals; its job goes to another worker", async () => {
    const env = await setup({ heartbeatMs: 200 });
    const client = await tcp(env);
    client.send(T.SUBMIT_JOB, ["tenantA.hb", "", "work"]);
    const handle = argText(await client.next(T.JOB_CREATED), 0);
    const dead = await peer(env, "tok-wa", { autoPong: false });
    dead.send(T.CAN_DO, ["tenantA.hb"]);
    dead.send(T.GRAB_JOB, []);
    expect(argText(await dead.next(T.JOB_ASSIGN), 0)).toBe(handle);
    const t0 = Date.now();
    const c = await dead.closed;
    expect(c.code).toBe(1006);
    expect(Date.now() - t0).toBeLessThan(1500);
    const w = await tcp(env);
    w.send(T.CAN_DO, ["tenantA.hb"]);
    w.send(T.GRAB_JOB, []);
    const again = await w.next(T.JOB_ASSIGN);
    expect(argText(again, 0)).toBe(handle);
    w.send(T.WORK_COMPLETE, [handle, "done"]);
    expect(argText(await client.next(T.WORK_COMPLETE), 1)).toBe("done");
    await sleep(50);
    expect(env.logs.some((e) => e.type === "connection" && /no pong/.test(e.reason))).toBe(true);
  });

  test("B15: a token that expires mid-session → close 4401; the worker's job is requeued", async () => {
    const env = await setup();
    const client = await tcp(env);
    client.send(T.SUBMIT_JOB, ["tenantA.exp", "", "work"]);
    const handle = argText(await client.next(T.JOB_CREATED), 0);
    const exp = Date.now() / 1000 + 1.2;
    const token = signToken({ sub: "shortlived", roles: ["worker"], register: ["tenantA.*"], exp }, SECRET);
    const p = await peer(env, token);
    p.send(T.CAN_DO, ["tenantA.exp"]);
    p.send(T.GRAB_JOB, []);
    expect(argText(await p.next(T.JOB_ASSIGN), 0)).toBe(handle);
    await expectClose(p, 4401, "token expired");
    expect(Date.now() / 1000).toBeGreaterThanOrEqual(exp - 0.05);
    const w = await tcp(env);
    w.send(T.CAN_DO, ["tenantA.exp"]);
    w.send(T.GRAB_JOB, []);
    expect(argText(await w.next(T.JOB_ASSIGN), 0)).toBe(handle);
  });

  test("a first packet must arrive in time", async () => {
    const env = await setup({ firstPacketMs: 300 });
    const p = await peer(env, "tok-alice");
    await expectClose(p, 1008, /no packet within 300 ms/);
  });
});

describe("B: abuse found by the second bridge audit", () => {
  test("16,000 dropped SET_CLIENT_IDs: the log counts one reason; a logger that throws leaves the bridge up", async () => {
    const logs: BridgeLogEntry[] = [];
    const g = await startGearmand({ args: ["--threads=0"] });
    cleanups.push(() => g.stop());
    let calls = 0;
    const logger = (e: BridgeLogEntry): void => {
      logs.push(e);
      if (++calls === 1) throw new Error("logger bug");
    };
    const b = await startBridge({ upstream: g.address, policy: POLICY, logger });
    cleanups.push(() => b.close());
    const w = await openPeer(b.url, { token: "tok-wa" });
    const batch = new PacketWriter();
    for (let i = 0; i < 16_000; i++) batch.write(T.SET_CLIENT_ID, [""]);
    w.ws.send(batch.take());
    w.send(T.ECHO_REQ, ["after"]);
    await w.next(T.ECHO_RES);
    w.ws.close();
    await w.closed;
    await waitFor(() => logs.some((e) => e.type === "connection"));
    const log = logs.find((e) => e.type === "connection");
    expect(log?.type === "connection" && log.denials).toEqual({ "SET_CLIENT_ID is set by the bridge": 16_000 });
    // The throwing logger cost nothing: the bridge still serves.
    const again = await openPeer(b.url, { token: "tok-alice" });
    cleanups.push(() => again.ws.terminate());
    again.send(T.ECHO_REQ, ["alive"]);
    expect(argText(await again.next(T.ECHO_RES), 0)).toBe("alive");
  });

  test("bytesPerSecond: a principal over its byte rate is read more slowly, and nothing is lost", async () => {
    const env = await setup({ bytesPerSecond: 100_000 });
    const a = await peer(env, "tok-alice");
    const t0 = Date.now();
    for (let i = 0; i < 4; i++) a.send(T.ECHO_REQ, [new Uint8Array(90_000).fill(i)]);
    for (let i = 0; i < 4; i++) expect((await a.next(T.ECHO_RES, 10_000)).args[0]![0]).toBe(i);
    // A message is read, then its bytes are paid for: 360 kB at 100 kB/s, less the 100 kB burst and the last message,
    // is 1.7 s of pauses.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
  });

  test("packetsPerSecond: a principal flooding tiny packets is read more slowly; others are not, and nothing is lost", async () => {
    const env = await setup({ packetsPerSecond: 1000 });
    const a = await peer(env, "tok-alice");
    const bob = await peer(env, "tok-bob");
    const t0 = Date.now();
    // 30 messages of 100 ECHO_REQ each, 10 ms apart (0.3 s unthrottled). The first 1,000 packets are the burst; the
    // bridge then stops reading until each read's debt is paid: what arrived in a 0.1 s pause is 1 s of debt.
    for (let m = 0; m < 30; m++) {
      const w = new PacketWriter();
      for (let i = 0; i < 100; i++) w.write(T.ECHO_REQ, [`${m * 100 + i}`]);
      a.ws.send(w.take());
      await sleep(10);
      if (m !== 15) continue;
      // Another principal's bucket is its own: bob is answered while alice waits.
      const tb = Date.now();
      bob.send(T.ECHO_REQ, ["bob"]);
      expect(argText(await bob.next(T.ECHO_RES), 0)).toBe("bob");
      expect(Date.now() - tb).toBeLessThan(500);
    }
    for (let i = 0; i < 3000; i++) expect(argText(await a.next(T.ECHO_RES, 10_000), 0)).toBe(String(i));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
  });

  test("logPackets: one line per packet with type, function and size, never payloads, uniques or handles; off by default", async () => {
    const g = await startGearmand({ args: ["--threads=0"] });
    cleanups.push(() => g.stop());
    const logs: BridgeLogEntry[] = [];
    const b = await startBridge({ upstream: g.address, policy: POLICY, logger: (e) => logs.push(e), logPackets: true });
    cleanups.push(() => b.close());
    const a = await peer({ g, b, logs }, "tok-alice");
    const w = await peer({ g, b, logs }, "tok-wa");
    w.send(T.CAN_DO, ["tenantA.trace"]);
    a.send(T.SUBMIT_JOB, ["tenantA.trace", "secret-unique", "secret-payload"]);
    const created = await a.next(T.JOB_CREATED);
    w.send(T.GRAB_JOB, []);
    const job = await w.next(T.JOB_ASSIGN);
    w.send(T.WORK_COMPLETE, [argText(job, 0), "secret-result"]);
    await a.next(T.WORK_COMPLETE);
    const packets = logs.filter((e) => e.type === "packet");
    expect(packets).toContainEqual({ type: "packet", principal: "alice", direction: "in", packet: "SUBMIT_JOB", size: 12 + 14 + 14 + 14, function: "tenantA.trace" });
    expect(packets).toContainEqual({ type: "packet", principal: "workerA", direction: "in", packet: "CAN_DO", size: 12 + 13, function: "tenantA.trace" });
    expect(packets).toContainEqual(expect.objectContaining({ principal: "workerA", direction: "out", packet: "JOB_ASSIGN", function: "tenantA.trace" }));
    expect(packets).toContainEqual(expect.objectContaining({ principal: "alice", direction: "out", packet: "WORK_COMPLETE", function: undefined }));
    expect(JSON.stringify(logs)).not.toMatch(new RegExp(`secret|${argText(created, 0)}|tok-`));
    // The default bridge of this file logs connections only.
    const env = await setup();
    const p = await peer(env, "tok-alice");
    p.send(T.ECHO_REQ, ["x"]);
    await p.next(T.ECHO_RES);
    p.ws.close();
    await waitFor(() => env.logs.some((e) => e.type === "connection"));
    expect(env.logs.filter((e) => e.type === "packet")).toEqual([]);
  });

  test("maxJobsInFlight: one foreground job over the cap → 1008; finished jobs free their place", async () => {
    const env = await setup({ maxJobsInFlight: 3 });
    const w = await tcp(env);
    w.send(T.CAN_DO, ["tenantA.cap"]);
    const a = await peer(env, "tok-alice");
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 3; i++) a.send(T.SUBMIT_JOB, ["tenantA.cap", "", `r${round}j${i}`]);
      for (let i = 0; i < 3; i++) await a.next(T.JOB_CREATED);
      for (let i = 0; i < 3; i++) {
        w.send(T.GRAB_JOB, []);
        const job = await w.next(T.JOB_ASSIGN);
        w.send(T.WORK_COMPLETE, [argText(job, 0), "done"]);
      }
      for (let i = 0; i < 3; i++) await a.next(T.WORK_COMPLETE);
    }
    for (let i = 0; i < 4; i++) a.send(T.SUBMIT_JOB, ["tenantA.cap", "", `over${i}`]);
    await expectClose(a, 1008, /more than 3 foreground jobs in flight/);
  });

  test("a plain HTTP request with a long body gets 426 and its socket is closed, not held for minutes", async () => {
    const env = await setup();
    const s = connect({ port: Number(new URL(env.b.url).port), host: "127.0.0.1" });
    s.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nsome");
    let reply = "";
    s.on("data", (d) => (reply += d.toString()));
    const closed = new Promise((r) => s.once("close", r));
    const t0 = Date.now();
    const drip = setInterval(() => s.writable && s.write("x"), 100);
    await Promise.race([closed, sleep(5000)]);
    clearInterval(drip);
    s.destroy();
    expect(reply).toMatch(/^HTTP\/1.1 426/);
    expect(Date.now() - t0).toBeLessThan(4000);
  });

  test("a byte-order mark or bytes that are not UTF-8 in a function name do not pass the allow-lists", async () => {
    const env = await setup();
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode("shared")]);
    const a = await peer(env, "tok-alice");
    a.send(T.SUBMIT_JOB_BG, [bom, "", "x"]);
    await expectClose(a, 1008, /submit of function/);
    const w = await peer(env, "tok-wa");
    w.send(T.CAN_DO, [new Uint8Array([...new TextEncoder().encode("tenantA."), 0xff])]);
    await expectClose(w, 1008, /register: the function name is not valid UTF-8/);
    expect(await statusNames(env)).not.toContain("\uFEFFshared");
  });
});

describe("C: through the bridge", () => {
  test("C7: bridge restart: 1001, workers' jobs requeued, queued foreground jobs dropped, reconnect works", async () => {
    const env = await setup();
    const client = await tcp(env);
    client.send(T.SUBMIT_JOB, ["tenantA.c7", "", "held"]);
    const held = argText(await client.next(T.JOB_CREATED), 0);
    const worker = await peer(env, "tok-wa");
    worker.send(T.CAN_DO, ["tenantA.c7"]);
    worker.send(T.GRAB_JOB, []);
    await worker.next(T.JOB_ASSIGN);
    const alice = await peer(env, "tok-alice");
    alice.send(T.SUBMIT_JOB, ["tenantA.queued", "", "fg"]);
    await alice.next(T.JOB_CREATED);
    const port = env.b.port;
    await env.b.close();
    expect((await worker.closed).code).toBe(1001);
    expect((await alice.closed).code).toBe(1001);
    const w = await tcp(env);
    w.send(T.CAN_DO, ["tenantA.c7"]);
    w.send(T.GRAB_JOB, []);
    expect(argText(await w.next(T.JOB_ASSIGN), 0)).toBe(held);
    w.send(T.CANT_DO, ["tenantA.c7"]);
    w.send(T.CAN_DO, ["tenantA.queued"]);
    w.send(T.GRAB_JOB, []);
    expect((await w.next()).type).toBe(T.NO_JOB);
    const b2 = await startBridge({ upstream: env.g.address, policy: POLICY, port, logger: () => {} });
    cleanups.push(() => b2.close());
    const again = await openPeer(b2.url, { token: "tok-alice" });
    cleanups.push(() => again.ws.terminate());
    again.send(T.ECHO_REQ, ["back"]);
    expect(argText(await again.next(T.ECHO_RES), 0)).toBe("back");
  });

  test("C8: WebSocket closed mid-frame or mid-message → nothing forwarded, gearmand unchanged", async () => {
    const env = await setup();
    const port = Number(new URL(env.b.url).port);
    const rawWs = async (): Promise<import("node:net").Socket> => {
      const s = connect({ port, host: "127.0.0.1" });
      s.write("GET /gearman HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Protocol: gearman.v1, bearer.tok-alice\r\n\r\n");
      await new Promise<void>((resolve) => s.once("data", (d) => (expect(d.toString()).toMatch(/^HTTP\/1.1 101/), resolve())));
      return s;
    };
    // Masked with a zero key, so the payload goes as it is.
    const frame = (fin: boolean, opcode: number, payload: Uint8Array): Buffer =>
      Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, payload.length >> 8, payload.length & 255, 0, 0, 0, 0]), payload]);
    const packet = encodePacket(T.SUBMIT_JOB_BG, ["tenantA.c8", "", "x".repeat(200)]);
    const s1 = await rawWs();
    s1.write(frame(true, 2, packet).subarray(0, 8 + 100));
    await sleep(50);
    s1.destroy();
    const s2 = await rawWs();
    s2.write(frame(false, 2, packet));
    await sleep(50);
    s2.destroy();
    await sleep(100);
    expect(await statusNames(env)).not.toContain("tenantA.c8");
    const ok = await peer(env, "tok-alice");
    ok.ws.send(packet);
    await ok.next(T.JOB_CREATED);
    expect(await statusNames(env)).toContain("tenantA.c8");
  });

  test("C9: packets pass as they came unless rewritten, in whole packets per message however gearmand's bytes are cut", async () => {
    const req = new PacketWriter();
    req.write(T.ECHO_REQ, ["first"]);
    req.write(T.SET_CLIENT_ID, ["mallory"]);
    req.write(T.SUBMIT_JOB, ["tenantA.x", "k", "p"]);
    req.write(T.SUBMIT_JOB_BG, ["tenantA.y", "", "q"]);
    const sent = req.take();
    // Upstream gets the bridge's own SET_CLIENT_ID, then the message without the peer's SET_CLIENT_ID and with the unique namespaced.
    req.write(T.SET_CLIENT_ID, ["alice"]);
    req.write(T.ECHO_REQ, ["first"]);
    req.write(T.SUBMIT_JOB, ["tenantA.x", "alice:k", "p"]);
    req.write(T.SUBMIT_JOB_BG, ["tenantA.y", "", "q"]);
    const forwarded = req.take();
    const replies = (aliceUnique: string): Uint8Array => {
      const w = new PacketWriter();
      w.write(T.ECHO_RES, [new Uint8Array(3000).fill(97)], "res");
      w.write(T.JOB_CREATED, ["H:fake:1"], "res");
      w.write(T.STATUS_RES_UNIQUE, [aliceUnique, "1", "0", "0", "0", "0"], "res");
      w.write(T.NOOP, [], "res");
      w.write(T.STATUS_RES_UNIQUE, ["bob:u2", "0", "0", "0", "0", "0"], "res");
      w.write(T.ECHO_RES, ["tail"], "res");
      return w.take();
    };
    // A scripted upstream: it records what the bridge forwards, then answers with replies cut into odd pieces.
    const script = replies("alice:u1");
    const got: Buffer[] = [];
    const upstream = createServer((s) => {
      s.on("data", async (d) => {
        got.push(d);
        if (Buffer.concat(got).length !== forwarded.length) return;
        let at = 0;
        for (const n of [5, 10, 1000, 2003, 20, 3, 30, 1, 17, 9]) {
          s.write(script.subarray(at, (at += n)));
          await sleep(3);
        }
        s.end(script.subarray(at));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => upstream.close(() => r())));
    const b = await startBridge({ upstream: `127.0.0.1:${(upstream.address() as { port: number }).port}`, policy: POLICY, logger: () => {} });
    cleanups.push(() => b.close());
    const p = await openPeer(b.url, { token: "tok-alice" });
    cleanups.push(() => p.ws.terminate());
    const messages: Buffer[] = [];
    p.ws.on("message", (d: Buffer) => messages.push(Buffer.from(d)));
    p.ws.send(sent);
    expect((await p.closed).code).toBe(1011);
    expect(Buffer.concat(got).equals(forwarded)).toBe(true);
    // Downstream: every message ends on a packet boundary; together they are the script with alice's prefix stripped.
    expect(messages.length).toBeGreaterThan(1);
    const check = new PacketDecoder({ expect: "res" });
    for (const m of messages) {
      check.push(m);
      expect(check.idle).toBe(true);
    }
    expect(Buffer.concat(messages).equals(replies("u1"))).toBe(true);
  });
});

/** A raw TCP worker that answers every job at once with its payload, keeping `depth` grabs outstanding. */
async function echoWorker(port: number, fn: string, counter: Map<string, number>, depth = 8): Promise<TcpPeer> {
  const w = await tcpPeer(port);
  const dec = new PacketDecoder({ expect: "res" });
  const out = new PacketWriter();
  let grabs = 0;
  const grab = (n: number): void => {
    for (let i = 0; i < n; i++) out.write(T.GRAB_JOB, []);
    grabs += n;
  };
  w.socket.removeAllListeners("data");
  w.socket.on("data", (chunk: Buffer) => {
    for (const p of dec.push(chunk)) {
      if (p.type === T.JOB_ASSIGN) {
        const h = argText(p, 0);
        counter.set(h, (counter.get(h) ?? 0) + 1);
        out.write(T.WORK_COMPLETE, [p.args[0]!, p.args[2]!]);
        grabs--;
        grab(1);
      } else if (p.type === T.NO_JOB && --grabs === 0) out.write(T.PRE_SLEEP, []);
      else if (p.type === T.NOOP) grab(depth - grabs);
    }
    if (out.length > 0) w.socket.write(out.take());
  });
  out.write(T.CAN_DO, [fn]);
  grab(depth);
  w.socket.write(out.take());
  return w;
}

describe("D: load through the bridge", () => {
  test("D1: 10,000 concurrent foreground jobs (100 WS clients × 100), each exactly once", async () => {
    const env = await setup({ submitsPerSecond: 1e6 }, ["-b", "1024", "--threads=0"]);
    const executed = new Map<string, number>();
    const workers = await Promise.all([0, 1, 2, 3].map(() => echoWorker(env.g.port, "tenantA.d1", executed)));
    for (const w of workers) cleanups.push(() => w.close());
    const clients = await Promise.all(Array.from({ length: 100 }, () => peer(env, "tok-alice")));
    const t0 = performance.now();
    const results = await Promise.all(clients.map(async (c, ci) => {
      const w = new PacketWriter();
      for (let i = 0; i < 100; i++) w.write(T.SUBMIT_JOB, ["tenantA.d1", "", `${ci}:${i}`]);
      c.ws.send(w.take());
      const got: string[] = [];
      while (got.length < 100) got.push(argText(await c.next(T.WORK_COMPLETE, 30_000), 1));
      return got;
    }));
    const ms = performance.now() - t0;
    const all = results.flat();
    expect(all.length).toBe(10_000);
    expect(new Set(all).size).toBe(10_000);
    results.forEach((got, ci) => expect(new Set(got)).toEqual(new Set(Array.from({ length: 100 }, (_, i) => `${ci}:${i}`))));
    expect(executed.size).toBe(10_000);
    expect([...executed.values()].every((n) => n === 1)).toBe(true);
    expect(clients.every((c) => c.inbox.partial === 0)).toBe(true);
    console.log(`D1: 10,000 jobs through the bridge in ${ms.toFixed(0)} ms (${(10_000 / (ms / 1000)).toFixed(0)} jobs/s)`);
  }, 60_000);

  test("D2: 1,000 WebSocket connections + one ECHO each", async () => {
    const env = await setup({ maxConnectionsPerIp: 2000, maxConnectionsPerPrincipal: 2000 }, ["-b", "1024", "--threads=0"]);
    const gBefore = await rssKiB(env.g.pid);
    const heldBefore = await retainedBytes();
    const before = process.memoryUsage().rss;
    const child = fork(fileURLToPath(new URL("../support/ws-load.mjs", import.meta.url)), [env.b.url, "tok-alice", "1000"]);
    cleanups.push(() => void child.kill("SIGKILL"));
    const r = await new Promise<{ openMs: number; echoMs: number; ok: number }>((resolve, rejectRun) => {
      child.once("message", (m) => resolve(m as { openMs: number; echoMs: number; ok: number }));
      child.once("exit", (code) => rejectRun(new Error(`load process exited with ${code}`)));
    });
    expect(r.ok).toBe(1000);
    expect(env.b.connections).toBe(1000);
    const bridgeMiB = (process.memoryUsage().rss - before) / 2 ** 20;
    const heldMiB = ((await retainedBytes()) - heldBefore) / 2 ** 20;
    const gearmandMiB = ((await rssKiB(env.g.pid)) - gBefore) / 1024;
    console.log(`D2: 1000 connections opened in ${r.openMs.toFixed(0)} ms, echoes in ${r.echoMs.toFixed(0)} ms; ` +
      `bridge +${bridgeMiB.toFixed(1)} MiB RSS (+${heldMiB.toFixed(1)} MiB heap+buffers after GC), gearmand +${gearmandMiB.toFixed(1)} MiB RSS`);
    expect(r.openMs).toBeLessThan(5000);
    expect(bridgeMiB).toBeLessThan(100);
    expect(gearmandMiB).toBeLessThan(50);
    child.send("close");
    const deadline = Date.now() + 10_000;
    while (env.b.connections > 0 && Date.now() < deadline) await sleep(50);
    expect(env.b.connections).toBe(0);
  }, 60_000);

  test("D3: a slow consumer keeps bridge and job server memory bounded and is closed with 1008", async () => {
    const env = await setup({ slowConsumerMs: 2000, closeGraceMs: 500, maxPacketSize: 128 << 10 });
    // The embedded server runs in this process (its pid is ours): what it holds is counted in heldMiB
    // below, with the bridge's, and this process's RSS says nothing about it. gearmand is measured by its own RSS.
    const embedded = serverKind() === "embedded";
    const p = await peer(env, "tok-alice");
    const gBefore = embedded ? 0 : await rssKiB(env.g.pid);
    const heldBefore = await retainedBytes();
    const before = process.memoryUsage().rss;
    p.ws.pause();
    const chunk = encodePacket(T.ECHO_REQ, [new Uint8Array(64 << 10)]);
    let sent = 0;
    const t = setInterval(() => {
      // Keep the client's own buffer small: what piles up must be in the bridge or gearmand.
      while (p.ws.readyState === 1 && p.ws.bufferedAmount < 1 << 20) {
        p.ws.send(chunk);
        sent += chunk.length;
      }
    }, 5);
    cleanups.push(() => clearInterval(t));
    // Sample while the peer is stalled and still connected: the bridge must be holding a bounded amount.
    await sleep(1500);
    expect(env.b.connections).toBe(1);
    const heldMiB = ((await retainedBytes()) - heldBefore) / 2 ** 20;
    const deadline = Date.now() + 15_000;
    while (!env.logs.some((e) => e.type === "connection") && Date.now() < deadline) await sleep(50);
    clearInterval(t);
    const log = env.logs.find((e) => e.type === "connection");
    expect(log?.type === "connection" && [log.code, log.reason]).toEqual([1008, "slow consumer"]);
    const grewMiB = (process.memoryUsage().rss - before) / 2 ** 20;
    const gGrewMiB = embedded ? 0 : ((await rssKiB(env.g.pid)) - gBefore) / 1024;
    console.log(`D3: client sent ${(sent / 2 ** 20).toFixed(1)} MiB; while stalled the test process held ${heldMiB >= 0 ? "+" : ""}${heldMiB.toFixed(1)} MiB ` +
      `heap+buffers after GC (RSS +${grewMiB.toFixed(1)} MiB)${embedded ? ", embedded server included" : `; gearmand +${gGrewMiB.toFixed(1)} MiB RSS`}`);
    if (!embedded) expect(gGrewMiB).toBeLessThan(5);
    // Bridge HWM 1 MiB + the client's own ≤ 1 MiB send buffer + one message in flight each way (and, for the
    // embedded server, what it keeps for the bridge's congested connection before it stops reading from it).
    expect(heldMiB).toBeLessThan(8);
    expect(env.b.connections).toBe(0);
  }, 30_000);
});

describe("the SDK transport and the CLI", () => {
  test("websocketConnector through the bridge: ECHO round trip, policy close → PolicyError", async () => {
    const env = await setup();
    const t = await websocketConnector(env.b.url, { WebSocket, token: "tok-alice" })();
    const got: Uint8Array[] = [];
    let closed!: (e?: Error) => void;
    const done = new Promise<Error | undefined>((r) => (closed = r));
    t.start({ data: (c) => got.push(c), drain: () => {}, closed });
    t.write(encodePacket(T.ECHO_REQ, ["via transport"]));
    const dec = new PacketDecoder({ expect: "res" });
    const deadline = Date.now() + 3000;
    while (got.length === 0 && Date.now() < deadline) await sleep(5);
    const [echo] = dec.push(got[0]!);
    expect(argText(echo!, 0)).toBe("via transport");
    t.write(encodePacket(T.CAN_DO, ["tenantA.x"]));
    const err = await done;
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).closeCode).toBe(1008);
    await expect(websocketConnector(env.b.url, { WebSocket, token: "wrong" })()).rejects.toThrow(/401/);
  });

  test("gearman-bridge --listen --upstream --policy prints the URL and enforces the file's policy", async () => {
    const g = await startGearmand({ args: ["--threads=0"] });
    cleanups.push(() => g.stop());
    const dir = mkdtempSync(join(tmpdir(), "bridge-cli-"));
    const file = join(dir, "policy.json");
    writeFileSync(file, JSON.stringify({
      origins: [ORIGIN],
      tokens: { "cli-token": { id: "cli", roles: ["client"], submit: ["tenantC.*"] } },
      hmac: { secretEnv: "BRIDGE_TEST_SECRET" },
      limits: { maxConnectionsPerPrincipal: 1 },
    }));
    const printed: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((line: string) => void printed.push(line));
    const bridge = await main(["--listen", "127.0.0.1:0", "--upstream", g.address, "--policy", file], { BRIDGE_TEST_SECRET: SECRET });
    spy.mockRestore();
    cleanups.push(() => bridge?.close());
    expect(printed).toEqual([bridge!.url]);
    expect(bridge!.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/gearman$/);
    const p = await openPeer(bridge!.url, { token: "cli-token", origin: ORIGIN });
    cleanups.push(() => p.ws.terminate());
    p.send(T.SUBMIT_JOB_BG, ["tenantC.job", "", "x"]);
    await p.next(T.JOB_CREATED);
    expect(await upgradeStatus(bridge!.url, { token: "cli-token" })).toBe(429);
    const signed = signToken({ sub: "signed", roles: ["client"], exp: Date.now() / 1000 + 60 }, SECRET);
    expect(await upgradeStatus(bridge!.url, { token: signed })).toBe(101);
    await expect(main(["--upstream", g.address], {})).rejects.toThrow(/--policy is required/);
    writeFileSync(file, JSON.stringify({ tokens: { t: { id: "x", roles: ["admin"] } } }));
    await expect(main(["--policy", file], {})).rejects.toThrow(/roles must be/);
    // No roles at all is refused with the same message, not a TypeError.
    writeFileSync(file, JSON.stringify({ tokens: { t: { id: "x" } } }));
    await expect(main(["--policy", file], {})).rejects.toThrow(/roles must be/);
  });

  test("gearman-bridge --log-packets writes a JSON line per packet on stderr", async () => {
    const g = await startGearmand({ args: ["--threads=0"] });
    cleanups.push(() => g.stop());
    const file = join(mkdtempSync(join(tmpdir(), "bridge-cli-")), "policy.json");
    writeFileSync(file, JSON.stringify({ tokens: { "cli-token": { id: "cli", roles: ["client"] } } }));
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((line) => lines.push(String(line)) > 0);
    cleanups.push(() => spy.mockRestore());
    vi.spyOn(console, "log").mockImplementationOnce(() => {});
    const bridge = await main(["--listen", "127.0.0.1:0", "--upstream", g.address, "--policy", file, "--log-packets"], {});
    cleanups.push(() => bridge?.close());
    const p = await openPeer(bridge!.url, { token: "cli-token" });
    cleanups.push(() => p.ws.terminate());
    p.send(T.ECHO_REQ, ["hello"]);
    await p.next(T.ECHO_RES);
    const packets = lines.map((l) => JSON.parse(l) as BridgeLogEntry).filter((e) => e.type === "packet");
    expect(packets.map((e) => `${e.direction} ${e.packet} ${e.size}`)).toEqual(["in ECHO_REQ 17", "out ECHO_RES 17"]);
  });

  test("an unknown key or a limit that is not a sensible whole number stops the start, naming the key and what is expected", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bridge-cli-"));
    const file = join(dir, "policy.json");
    const tokens = { t: { id: "a", roles: ["client"], submit: ["*"] } };
    const refused = async (json: object, message: RegExp): Promise<void> => {
      writeFileSync(file, JSON.stringify(json));
      await expect(main(["--listen", "127.0.0.1:0", "--policy", file], {})).rejects.toThrow(message);
    };
    // A string would make every `count >= max` false and let every client in; -5 would refuse every submit.
    await refused({ tokens, limits: { maxConnections: "1x" } }, /limit maxConnections must be a whole number from 1 to \d+, not the string 1x/);
    await refused({ tokens, limits: { submitsPerSecond: -5 } }, /limit submitsPerSecond must be a whole number from 1 .*not the number -5/);
    await refused({ tokens, limts: { maxConnections: 1 } }, /unknown policy file key "limts"; expected one of origins, tokens, hmac/);
    await refused({ tokens, origin: ["https://x"] }, /unknown policy file key "origin"/);
    await refused({ tokens, limits: { maxConnection: 1 } }, /unknown limit "maxConnection"; expected one of maxPacketSize, maxConnections/);
    await refused({ tokens, hmac: { secret: SECRET, audiance: "x" } }, /unknown hmac key "audiance"; expected one of secret, secretEnv, audience/);
    const start = (policy: object, limits: object): Promise<Bridge> =>
      startBridge({ upstream: "127.0.0.1:1", policy: policy as BridgePolicy, limits: limits as BridgeLimits, logger: () => {} });
    for (const [limits, message] of [
      [{ heartbeatMs: Number.NaN }, /heartbeatMs must be a whole number.*not the number NaN/],
      [{ maxConnectionsPerIp: 1.5 }, /maxConnectionsPerIp/], [{ maxPacketSize: 0 }, /maxPacketSize must be a whole number from 1/],
      [{ firstPacketMs: 2 ** 31 }, /firstPacketMs must be a whole number from 1 to 2147483647/], [{ lowWaterMark: -1 }, /from 0 to/],
      [{ submitBurst: Infinity }, /submitBurst/], [{ toString: 1 }, /unknown limit "toString"/],
    ] as const) await expect(start({ tokens }, limits)).rejects.toThrow(message);
    await expect(start({ tokens, origin: ["x"] }, {})).rejects.toThrow(/unknown policy key "origin"; expected one of verify, tokens/);
    await expect(start({ tokens, origins: "https://app.test" }, {})).rejects.toThrow(/origins and trustedProxies must be lists/);
    await expect(startBridge({ upstream: "127.0.0.1:1" } as never)).rejects.toThrow(/startBridge needs a policy/);
    await expect(start({ tokens, hmac: { secret: SECRET, audiance: "x" } }, {})).rejects.toThrow(/unknown hmac key "audiance"/);
    // A limit left undefined takes its default; lowWaterMark 0 is allowed.
    const b = await start({ tokens }, { maxConnections: undefined, lowWaterMark: 0 });
    await b.close();
  });

  test("a typo in a principal's keys, or a path without its leading /, stops the start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bridge-cli-"));
    const file = join(dir, "policy.json");
    const refused = async (json: object, args: string[], message: RegExp): Promise<void> => {
      writeFileSync(file, JSON.stringify(json));
      await expect(main(["--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--policy", file, ...args], {})).rejects.toThrow(message);
    };
    const ok = { id: "a", roles: ["client"], submit: ["*"] };
    // "expires" for "exp" would make a token meant to lapse valid for ever; "submitt" would refuse every submit unexplained.
    await refused({ tokens: { t: { ...ok, expires: 1 } } }, [],
      /unknown principal key "expires"; expected one of id, roles, submit, register, exp, allowEpoch/);
    await refused({ tokens: { t: { ...ok, submitt: ["x"] } } }, [], /unknown principal key "submitt"/);
    const policy = { tokens: { t: { ...ok, allowepoch: true } as never } };
    await expect(startBridge({ upstream: "127.0.0.1:1", logger: () => {}, policy })).rejects.toThrow(/unknown principal key "allowepoch"/);
    // Without its "/" the path matches no request and the printed URL is "ws://127.0.0.1:4731gearman".
    await refused({ tokens: { t: ok } }, ["--path", "gearman"], /path must start with "\/", not "gearman"/);
    const b = await main(["--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--policy", file, "--path", "/jobs"], {});
    expect(b!.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/jobs$/);
    await b!.close();
  });
});
