// Node: test-plan E2, bounded bridge fuzzing (issue #7). Random packet sequences (valid, invalid, disallowed,
// random bytes, split and oversized headers) go over WebSocket through the real bridge, running in its own
// process, to a real job server. Every message is either forwarded (valid and allowed: its replies arrive,
// in order) or the connection closes with the 100x/4401 code the message deserves. After every round a
// canary (a fresh WS ECHO, a direct TCP ECHO, an SDK job through the bridge) proves that the bridge and
// the job server are alive; the bridge's memory and open files must stay bounded.
// FUZZ_SECONDS=30 lengthens the run (default 8); FUZZ_SEED=<n> replays a run's sequence of episode seeds.
import { afterAll, beforeAll, expect, test } from "vitest";
import { WebSocket } from "ws";
import { signToken } from "../../bridge/auth.ts";
import type { BridgePolicy } from "../../bridge/bridge.ts";
import { Client, Worker } from "../../src/node.ts";
import { PacketDecoder } from "../../src/protocol/decoder.ts";
import { ARG_COUNTS, PacketType as T } from "../../src/protocol/packet-types.ts";
import { argText, encodePacket, type Packet, type PacketArg } from "../../src/protocol/packet.ts";
import { type BridgeProcess, type BridgeStats, startBridgeProcess } from "../support/bridge-process.ts";
import { type Gearmand, serverKind, startGearmand } from "../support/gearmand.ts";
import { admin, retainedBytes, rssKiB, tcpPeer } from "../support/peers.ts";
import { SeededRandom } from "../support/random.ts";

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 8);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
const MAX = 64 << 10; // the bridge's maxPacketSize in this suite
const CONCURRENCY = 6; // episodes at once
const ROUND_MS = 1000; // canary after every round
const FUNCS = ["fuzz.a", "fuzz.b", "fuzz.c"];
const SECRET = "fuzz-secret-of-at-least-32-bytes!!!!";
const POLICY: BridgePolicy = {
  tokens: {
    "tok-fc": { id: "fuzzc", roles: ["client"], submit: ["fuzz.*"] },
    "tok-fw": { id: "fuzzw", roles: ["worker"], register: ["fuzz.*"] },
  },
  hmac: { secret: SECRET },
};
const CLOSE_CODES = new Set([1002, 1003, 1008, 1009, 4401]);
// The spec's per-role allow-lists (bridge.md §2.1 item 3), written out here as the oracle. SET_CLIENT_ID is
// dropped rather than refused (B10).
const CLIENT_TYPES = new Set<number>([T.SUBMIT_JOB, T.SUBMIT_JOB_BG, T.SUBMIT_JOB_HIGH, T.SUBMIT_JOB_HIGH_BG, T.SUBMIT_JOB_LOW,
  T.SUBMIT_JOB_LOW_BG, T.SUBMIT_REDUCE_JOB, T.SUBMIT_REDUCE_JOB_BACKGROUND, T.GET_STATUS, T.GET_STATUS_UNIQUE, T.ECHO_REQ,
  T.OPTION_REQ, T.SET_CLIENT_ID]);
const WORKER_TYPES = new Set<number>([T.CAN_DO, T.CAN_DO_TIMEOUT, T.CANT_DO, T.RESET_ABILITIES, T.PRE_SLEEP, T.GRAB_JOB,
  T.GRAB_JOB_UNIQ, T.GRAB_JOB_ALL, T.WORK_STATUS, T.WORK_DATA, T.WORK_WARNING, T.WORK_COMPLETE, T.WORK_FAIL,
  T.WORK_EXCEPTION, T.ECHO_REQ, T.SET_CLIENT_ID]);

// ---------------------------------------------------------------------------------------------------
// The run's seed gives every episode its own seed (test/support/random.ts), printed on failure.
class Rng extends SeededRandom {
  /** A payload: mostly small, sometimes large (the batch stays under MAX). */
  payload(): Uint8Array {
    return this.bytes(this.chance(0.05) ? this.range(2048, 16 << 10) : this.range(0, 300));
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
/** A packet with any type, magic and size field, and this body (no checks: the encoder would refuse most). */
function rawPacket(type: number, body: Uint8Array, magic = "REQ", size = body.length): Uint8Array {
  const h = Buffer.alloc(12);
  h[0] = 0;
  h.write(magic, 1, "latin1");
  h.writeUInt32BE(type >>> 0, 4);
  h.writeUInt32BE(size >>> 0, 8);
  return concat([h, body]);
}
/** A body with `k` fields (k − 1 NULs). */
const fieldsBody = (k: number, rng: Rng): Uint8Array =>
  concat(Array.from({ length: k }, (_, i) => concat([i > 0 ? new Uint8Array([0]) : new Uint8Array(0), Buffer.from(rng.ascii(rng.range(1, 8)))])));

// ---------------------------------------------------------------------------------------------------
// A raw WebSocket peer that decodes what the bridge sends and checks it is re-framed (whole packets).

class Peer {
  readonly ws: WebSocket;
  readonly packets: Packet[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  closeInfo: { code: number; reason: string } | undefined;
  partial = 0;
  #decoder = new PacketDecoder({ expect: "res" });
  #wake: (() => void) | undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => ws.on("close", (code, reason) => {
      this.closeInfo = { code, reason: reason.toString() };
      resolve(this.closeInfo);
      this.#wake?.();
    }));
    ws.on("message", (data: Buffer) => {
      this.packets.push(...this.#decoder.push(new Uint8Array(data)));
      if (!this.#decoder.idle) this.partial++;
      this.#wake?.();
    });
  }

  static open(url: string, token: string): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, ["gearman.v1", `bearer.${token}`], { perMessageDeflate: false });
      const peer = new Peer(ws);
      ws.once("open", () => resolve(peer));
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  send(data: Uint8Array | string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary: typeof data !== "string" });
  }

  /** Waits until `cond()` holds or the connection closes; false on timeout. */
  async until(cond: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (this.closeInfo || Date.now() > deadline) return cond();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#wake = () => (clearTimeout(t), resolve());
      });
    }
    return true;
  }

  echoes(): string[] {
    return this.packets.filter((p) => p.type === T.ECHO_RES).map((p) => hex(p.args[0]!));
  }
}

// ---------------------------------------------------------------------------------------------------
// Valid messages: what each one must make the bridge and the server answer.

interface Expected {
  echoes: string[];
  created: number;
  status: number;
  denied: number;
  uniqueStatus: number;
  options: number;
  grabs: number;
}

type Role = "client" | "worker";

function validPacket(rng: Rng, role: Role, exp: Expected, peer: Peer): [number, PacketArg[]] {
  const fn = rng.pick(FUNCS);
  const unique = rng.chance(0.5) ? "" : rng.ascii(rng.range(1, 20)).replace(/^-$/, "u");
  const echo = (): [number, PacketArg[]] => {
    const data = rng.payload();
    exp.echoes.push(hex(data));
    return [T.ECHO_REQ, [data]];
  };
  const handles = (types: number[]): string[] => peer.packets.filter((p) => types.includes(p.type)).map((p) => argText(p, 0));
  if (role === "client") {
    switch (rng.int(9)) {
      case 0:
      case 1:
        return echo();
      case 2:
      case 3: {
        exp.created++;
        const type = rng.pick([T.SUBMIT_JOB, T.SUBMIT_JOB_BG, T.SUBMIT_JOB_HIGH, T.SUBMIT_JOB_HIGH_BG, T.SUBMIT_JOB_LOW, T.SUBMIT_JOB_LOW_BG]);
        return [type, [fn, unique, rng.payload()]];
      }
      case 4:
        exp.created++;
        return [rng.pick([T.SUBMIT_REDUCE_JOB, T.SUBMIT_REDUCE_JOB_BACKGROUND]), [fn, unique, rng.pick(FUNCS), "", rng.payload()]];
      case 5: {
        const own = handles([T.JOB_CREATED]);
        if (own.length > 0 && rng.chance(0.6)) {
          exp.status++;
          return [T.GET_STATUS, [rng.pick(own)]];
        }
        exp.denied++;
        return [T.GET_STATUS, [`H:fuzz-foreign:${rng.int(1e6)}`]];
      }
      case 6:
        exp.uniqueStatus++;
        return [T.GET_STATUS_UNIQUE, [rng.ascii(rng.range(1, 20)).replace(/^-$/, "u")]];
      case 7:
        exp.options++;
        return [T.OPTION_REQ, ["exceptions"]];
      default:
        return rng.chance(0.3) ? [T.SET_CLIENT_ID, [`spoof-${rng.int(1e6)}`]] : echo();
    }
  }
  const held = handles([T.JOB_ASSIGN, T.JOB_ASSIGN_UNIQ, T.JOB_ASSIGN_ALL]);
  const h = held.length > 0 && rng.chance(0.7) ? rng.pick(held) : `H:fuzz-none:${rng.int(1e6)}`;
  switch (rng.int(12)) {
    case 0:
      return [T.CAN_DO, [fn]];
    case 1:
      return [T.CAN_DO_TIMEOUT, [fn, String(rng.range(1, 100_000))]];
    case 2:
      return rng.chance(0.5) ? [T.CANT_DO, [fn]] : [T.RESET_ABILITIES, []];
    case 3:
      return [T.PRE_SLEEP, []];
    case 4:
    case 5:
      exp.grabs++;
      return [rng.pick([T.GRAB_JOB, T.GRAB_JOB_UNIQ, T.GRAB_JOB_ALL]), []];
    case 6:
      return [T.WORK_STATUS, [h, String(rng.int(100)), String(rng.range(1, 100))]];
    case 7:
      return [rng.pick([T.WORK_DATA, T.WORK_WARNING]), [h, rng.payload()]];
    case 8:
      return rng.chance(0.5) ? [T.WORK_COMPLETE, [h, rng.payload()]] : rng.chance(0.5) ? [T.WORK_FAIL, [h]] : [T.WORK_EXCEPTION, [h, rng.payload()]];
    case 9:
      return [T.SET_CLIENT_ID, [`spoof-${rng.int(1e6)}`]];
    default:
      return echo();
  }
}

/** One valid WS message: 1-4 whole packets (or, rarely, an empty message, which forwards nothing). */
function validMessage(rng: Rng, role: Role, exp: Expected, peer: Peer): Uint8Array {
  if (rng.chance(0.02)) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let size = 0;
  for (let i = rng.range(1, 4); i > 0; i--) {
    const promised: Expected = { ...exp, echoes: [...exp.echoes] };
    const [type, args] = validPacket(rng, role, promised, peer);
    const p = encodePacket(type, args);
    // One message must stay under the bridge's limit: a packet that does not fit is not sent, nor expected.
    if (size + p.length > MAX - 1024) break;
    Object.assign(exp, promised);
    parts.push(p);
    size += p.length;
  }
  return concat(parts);
}

// ---------------------------------------------------------------------------------------------------
// Invalid messages and the close code each must get.

interface Bad {
  kind: string;
  data: Uint8Array | string;
  /** The close code expected; `any` = any of 1002/1008/1009, or the message was valid and the connection still serves. */
  code: number | "any";
  /** A valid ECHO may go in front (the whole message must then be dropped). */
  poisonable: boolean;
}

const NOT_CLIENT = Array.from({ length: 42 }, (_, i) => i + 1).filter((t) => !CLIENT_TYPES.has(t));
const NOT_WORKER = Array.from({ length: 42 }, (_, i) => i + 1).filter((t) => !WORKER_TYPES.has(t));

function badMessage(rng: Rng, role: Role): Bad {
  const fn = rng.pick(FUNCS);
  const submit = (f: PacketArg, unique: PacketArg = ""): Uint8Array => encodePacket(T.SUBMIT_JOB, [f, unique, "x"]);
  const canDo = (f: PacketArg): Uint8Array => rawPacket(T.CAN_DO, typeof f === "string" ? Buffer.from(f) : f);
  const valid = encodePacket(T.ECHO_REQ, [rng.bytes(rng.range(0, 64))]);
  const kinds: (() => Bad)[] = [
    () => ({ kind: "text frame", data: rng.pick(["status\n", "workers\n", rng.ascii(rng.range(1, 40))]), code: 1003, poisonable: false }),
    () => {
      const b = rng.bytes(rng.range(12, 64));
      b[0] = rng.range(1, 255); // never \0: bad magic
      return { kind: "bad magic", data: b, code: 1002, poisonable: true };
    },
    () => ({ kind: "admin text in a binary frame", data: Buffer.from(rng.pick(["status\n", "shutdown\n", "maxqueue fuzz.a 0\n"])), code: 1002, poisonable: true }),
    () => ({ kind: "\\0RES magic", data: rawPacket(rng.pick([T.ECHO_RES, T.ECHO_REQ, T.SUBMIT_JOB]), Buffer.from("x\0y\0z"), "RES"), code: 1002, poisonable: true }),
    () => ({ kind: "header split (1-11 bytes)", data: valid.subarray(0, rng.range(1, 11)), code: 1002, poisonable: true }),
    () => ({ kind: "body truncated", data: valid.length > 12 ? valid.subarray(0, rng.range(12, valid.length - 1)) : valid.subarray(0, 5), code: 1002, poisonable: true }),
    () => ({ kind: "oversized header", data: rawPacket(rng.pick([T.ECHO_REQ, T.SUBMIT_JOB, T.CAN_DO, T.WORK_DATA]), rng.bytes(rng.range(0, 16)), "REQ", rng.range(MAX + 1, 2 ** 32 - 1)), code: 1009, poisonable: true }),
    () => ({ kind: "oversized message", data: encodePacket(T.ECHO_REQ, [new Uint8Array(MAX + rng.range(1, 64))]), code: 1009, poisonable: true }),
    () => ({ kind: "unknown type", data: rawPacket(rng.pick([0, 43, 44, 99, 255, 256, 2 ** 31, 2 ** 32 - 1]), rng.bytes(rng.range(0, 8))), code: 1008, poisonable: true }),
    () => {
      // Fewer fields than the type has, or a body on a type that has none.
      const type = rng.pick([T.SUBMIT_JOB, T.SUBMIT_JOB_BG, T.CAN_DO_TIMEOUT, T.WORK_STATUS, T.WORK_COMPLETE, T.GRAB_JOB, T.PRE_SLEEP, T.RESET_ABILITIES]);
      const k = ARG_COUNTS[type]!;
      const body = k === 0 ? Buffer.from("x") : fieldsBody(rng.range(1, k - 1), rng);
      return { kind: "missing fields", data: rawPacket(type, body), code: 1002, poisonable: true };
    },
    () => {
      const type = rng.pick(role === "client" ? NOT_CLIENT : NOT_WORKER);
      return { kind: "type not allowed for the role", data: rawPacket(type, ARG_COUNTS[type]! === 0 ? new Uint8Array(0) : fieldsBody(ARG_COUNTS[type]!, rng)), code: 1008, poisonable: true };
    },
    () => role === "client"
      ? { kind: "function not allowed", data: rng.chance(0.5) ? submit(`other.${rng.ascii(5)}`) : encodePacket(T.SUBMIT_REDUCE_JOB, [fn, "", `other.${rng.int(99)}`, "", "x"]), code: 1008, poisonable: true }
      : { kind: "function not allowed", data: canDo(`other.${rng.ascii(5)}`), code: 1008, poisonable: true },
    () => ({ kind: "empty name", data: role === "client" ? submit("") : canDo(""), code: 1008, poisonable: true }),
    () => ({ kind: "name over 512 bytes", data: role === "client" ? submit(`fuzz.${"n".repeat(rng.range(508, 600))}`) : canDo(`fuzz.${"n".repeat(rng.range(508, 600))}`), code: 1008, poisonable: true }),
    () => role === "client"
      ? { kind: "NUL in a name or unique", data: rawPacket(T.GET_STATUS_UNIQUE, Buffer.from(`u\0${rng.ascii(3)}`)), code: 1008, poisonable: true }
      : { kind: "NUL in a name or unique", data: canDo(concat([Buffer.from(fn), new Uint8Array([0]), Buffer.from(rng.ascii(3))])), code: 1008, poisonable: true },
    () => role === "client"
      ? { kind: "unique too long or '-'", data: submit(fn, rng.chance(0.5) ? "-" : rng.ascii(rng.range(59, 64))), code: 1008, poisonable: true }
      : { kind: "CAN_DO_TIMEOUT not a number", data: encodePacket(T.CAN_DO_TIMEOUT, [fn, rng.pick(["", "soon", "-1", "1".repeat(21)])]), code: 1008, poisonable: true },
    () => role === "client"
      ? { kind: "SUBMIT_JOB_EPOCH / SCHED", data: rng.chance(0.5) ? encodePacket(T.SUBMIT_JOB_EPOCH, [fn, "", "99999999", "x"]) : encodePacket(T.SUBMIT_JOB_SCHED, [fn, "", "1", "1", "1", "1", "1", "x"]), code: 1008, poisonable: true }
      : { kind: "client packet from a worker", data: rng.pick([encodePacket(T.SUBMIT_JOB, [fn, "", "x"]), encodePacket(T.GET_STATUS, ["H:x:1"]), encodePacket(T.OPTION_REQ, ["exceptions"])]), code: 1008, poisonable: true },
    () => ({ kind: "random bytes", data: rng.bytes(rng.range(1, 200)), code: "any", poisonable: false }),
    () => {
      // Well framed, random type 1-42, random fields: anything from valid to refused.
      const type = rng.range(1, 42);
      return { kind: "random framed packet", data: rawPacket(type, rng.bytes(rng.range(0, 40))), code: "any", poisonable: false };
    },
  ];
  return rng.pick(kinds)();
}

// ---------------------------------------------------------------------------------------------------

let g: Gearmand;
let bridge: BridgeProcess;
let drain: Worker;
let canaryClient: Client;

beforeAll(async () => {
  g = await startGearmand({ args: ["--threads=0", "-b", "256"] });
  bridge = await startBridgeProcess({
    upstream: g.address, policy: POLICY,
    limits: { maxPacketSize: MAX, submitsPerSecond: 1e6, submitBurst: 1e6, firstPacketMs: 10_000, closeGraceMs: 1000 },
  });
  // Runs every fuzz job (directly over TCP), so queues drain and the server's memory stays flat.
  drain = new Worker({ servers: [g.address], concurrency: 16, logger: {} });
  for (const f of FUNCS) drain.defineFunction(f, (job) => job.workload);
  await drain.start();
  canaryClient = new Client({ servers: [bridge.url], token: "tok-fc", logger: {}, reconnectDelay: 50, maxReconnectDelay: 200 });
}, 30_000);

afterAll(async () => {
  await canaryClient?.close();
  await drain?.stop({ graceful: false });
  await bridge?.close();
  await g?.stop();
});

interface Tally {
  episodes: number;
  messages: number;
  closes: Map<string, number>;
  kinds: Map<string, number>;
  workerErrors: Map<string, number>;
}

/** One connection: valid messages (every reply checked), then maybe one bad message and its close code. */
async function episode(seed: number, tally: Tally): Promise<void> {
  const rng = new Rng(seed);
  const fail: (what: string) => never = (what) => {
    throw new Error(`episode seed ${seed} (run FUZZ_SEED=${SEED}): ${what}`);
  };
  if (rng.chance(0.02)) return await expiringEpisode(rng, fail, tally);
  const role: Role = rng.chance(0.55) ? "client" : "worker";
  const peer = await Peer.open(bridge.url, role === "client" ? "tok-fc" : "tok-fw");
  try {
    const exp: Expected = { echoes: [], created: 0, status: 0, denied: 0, uniqueStatus: 0, options: 0, grabs: 0 };
    const n = rng.range(0, 10);
    for (let i = 0; i < n; i++) {
      peer.send(validMessage(rng, role, exp, peer));
      tally.messages++;
    }
    // A probe closes the valid part: once its echo is back, every earlier reply is too (replies keep order).
    const probe = rng.bytes(8);
    exp.echoes.push(hex(probe));
    peer.send(encodePacket(T.ECHO_REQ, [probe]));
    tally.messages++;
    if (!(await peer.until(() => peer.echoes().length >= exp.echoes.length, 10_000))) {
      fail(`valid messages not all answered (close ${JSON.stringify(peer.closeInfo)}; ${peer.echoes().length}/${exp.echoes.length} echoes)`);
    }
    const count = (...types: number[]): number => peer.packets.filter((p) => types.includes(p.type)).length;
    const errors = peer.packets.filter((p) => p.type === T.ERROR).map((p) => argText(p, 0));
    const got = {
      echoes: peer.echoes(), created: count(T.JOB_CREATED), status: count(T.STATUS_RES),
      denied: errors.filter((c) => c === "PERMISSION_DENIED").length, uniqueStatus: count(T.STATUS_RES_UNIQUE),
      options: count(T.OPTION_RES), grabs: count(T.NO_JOB, T.JOB_ASSIGN, T.JOB_ASSIGN_UNIQ, T.JOB_ASSIGN_ALL),
    };
    if (JSON.stringify(got) !== JSON.stringify(exp)) fail(`replies ${JSON.stringify(got).slice(0, 400)} ≠ expected ${JSON.stringify(exp).slice(0, 400)}`);
    const allowed = role === "client"
      ? [T.JOB_CREATED, T.STATUS_RES, T.STATUS_RES_UNIQUE, T.OPTION_RES, T.ECHO_RES, T.ERROR, T.WORK_DATA, T.WORK_WARNING, T.WORK_STATUS, T.WORK_COMPLETE, T.WORK_FAIL, T.WORK_EXCEPTION]
      : [T.NO_JOB, T.JOB_ASSIGN, T.JOB_ASSIGN_UNIQ, T.JOB_ASSIGN_ALL, T.NOOP, T.ECHO_RES, T.ERROR];
    const stray = peer.packets.find((p) => !(allowed as number[]).includes(p.type));
    if (stray) fail(`a ${role} got packet type ${stray.type}`);
    if (role === "client" && errors.length !== got.denied) fail(`client got ERROR ${errors.join(",")}`);
    if (role === "worker") for (const e of errors) tally.workerErrors.set(e, (tally.workerErrors.get(e) ?? 0) + 1);
    if (peer.partial > 0) fail("the bridge sent a message that did not end at a packet boundary");

    if (rng.chance(0.25)) {
      peer.ws.close(1000);
      const c = await peer.closed;
      tally.closes.set(String(c.code), (tally.closes.get(String(c.code)) ?? 0) + 1);
      return;
    }
    const bad = badMessage(rng, role);
    tally.kinds.set(bad.kind, (tally.kinds.get(bad.kind) ?? 0) + 1);
    const poison = rng.bytes(8);
    const withPoison = bad.poisonable && typeof bad.data !== "string" && rng.chance(0.5);
    peer.send(withPoison ? concat([encodePacket(T.ECHO_REQ, [poison]), bad.data as Uint8Array]) : bad.data);
    tally.messages++;
    if (bad.code === "any") {
      // Refused with a protocol or policy code, or it happened to be valid: then the connection still serves.
      const after = rng.bytes(8);
      peer.send(encodePacket(T.ECHO_REQ, [after]));
      await peer.until(() => peer.echoes().includes(hex(after)), 5000);
      if (!peer.closeInfo && !peer.echoes().includes(hex(after))) fail(`${bad.kind} (${hex(new Uint8Array(Buffer.from(bad.data)))}): neither closed nor still serving`);
      if (peer.closeInfo && !CLOSE_CODES.has(peer.closeInfo.code)) fail(`${bad.kind}: closed with ${peer.closeInfo.code} ${peer.closeInfo.reason}`);
      if (!peer.closeInfo) peer.ws.close(1000);
    }
    const closed = await Promise.race([peer.closed, new Promise<undefined>((r) => setTimeout(r, 5000))]);
    if (!closed) fail(`${bad.kind}: not closed within 5 s`);
    tally.closes.set(String(closed.code), (tally.closes.get(String(closed.code)) ?? 0) + 1);
    if (bad.code !== "any" && closed.code !== bad.code) {
      fail(`${bad.kind}: expected close ${bad.code}, got ${closed.code} "${closed.reason}" for ${hex(new Uint8Array(Buffer.from(bad.data))).slice(0, 200)}`);
    }
    // The bridge gives a reason with every close of its own; only ws itself refuses a message over maxPayload
    // (max packet + 12) with a bare 1009.
    if (bad.code !== "any" && bad.kind !== "oversized message" && closed.reason === "") fail(`${bad.kind}: close ${closed.code} without a reason`);
    if (withPoison && peer.echoes().includes(hex(poison))) fail(`${bad.kind}: a packet of the refused message was forwarded`);
  } finally {
    peer.ws.terminate();
  }
}

/** A signed token that expires mid-session: valid traffic flows until the close with 4401. */
async function expiringEpisode(rng: Rng, fail: (what: string) => never, tally: Tally): Promise<void> {
  const lifetime = 0.6 + rng.next() * 0.6;
  const exp = Date.now() / 1000 + lifetime;
  const token = signToken({ sub: `exp${rng.int(1000)}`, roles: ["client"], submit: ["fuzz.*"], exp }, SECRET);
  const peer = await Peer.open(bridge.url, token);
  tally.kinds.set("token expires", (tally.kinds.get("token expires") ?? 0) + 1);
  try {
    while (!peer.closeInfo) {
      const nonce = rng.bytes(8);
      peer.send(encodePacket(T.ECHO_REQ, [nonce]));
      tally.messages++;
      const ok = await peer.until(() => peer.echoes().includes(hex(nonce)), 3000);
      if (!ok && !peer.closeInfo) fail("an ECHO before expiry was not answered");
      if (Date.now() / 1000 > exp + 3) fail("no 4401 within 3 s of the expiry");
      await new Promise((r) => setTimeout(r, 50));
    }
    const c = peer.closeInfo;
    tally.closes.set(String(c.code), (tally.closes.get(String(c.code)) ?? 0) + 1);
    if (c.code !== 4401) fail(`expiring token: closed with ${c.code} ${c.reason}`);
    if (Date.now() / 1000 < exp - 0.05) fail("closed before the token expired");
  } finally {
    peer.ws.terminate();
  }
}

let canaries = 0;
/** Proves the bridge and the job server are alive: a fresh WS ECHO, a direct TCP ECHO, an SDK job via the bridge. */
async function canary(): Promise<void> {
  const n = canaries++;
  const ws = await Peer.open(bridge.url, "tok-fc");
  ws.send(encodePacket(T.ECHO_REQ, [`canary ${n}`]));
  expect(await ws.until(() => ws.echoes().includes(hex(Buffer.from(`canary ${n}`))), 5000), "WS canary").toBe(true);
  ws.ws.terminate();
  const tcp = await tcpPeer(g.port);
  tcp.send(T.ECHO_REQ, [`tcp canary ${n}`]);
  expect(argText(await tcp.next(T.ECHO_RES, 5000), 0)).toBe(`tcp canary ${n}`);
  tcp.close();
  const out = await canaryClient.execute("fuzz.a", `job canary ${n}`, { timeout: 10_000 });
  expect(Buffer.from(out).toString()).toBe(`job canary ${n}`);
}

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;

test(`E2: ${SECONDS} s of random packet sequences through the bridge: forwarded or closed with the right code; canaries pass; memory bounded`, async () => {
  console.log(`E2 fuzz: seed ${SEED} (replay with FUZZ_SEED=${SEED}), ${SECONDS} s, ${serverKind()}`);
  const master = new Rng(SEED);
  const tally: Tally = { episodes: 0, messages: 0, closes: new Map(), kinds: new Map(), workerErrors: new Map() };
  const initial = await bridge.stats();
  await canary();
  const base = await bridge.stats();
  const gBase = serverKind() === "gearmand" ? await rssKiB(g.pid) : 0;
  const heldBase = serverKind() === "embedded" ? await retainedBytes() : 0;
  const samples: BridgeStats[] = [];
  const end = Date.now() + SECONDS * 1000;
  let rounds = 0;
  while (Date.now() < end) {
    const roundEnd = Math.min(end, Date.now() + ROUND_MS);
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < roundEnd) {
        const seed = Math.floor(master.next() * 2 ** 32);
        tally.episodes++;
        await episode(seed, tally);
      }
    }));
    rounds++;
    await canary();
    // Nothing a peer sent may have reached the server's `workers` as a client id (B10 under fuzzing).
    const rows = await admin(g.port, "workers");
    expect(rows.join("\n")).not.toMatch(/spoof-/);
    samples.push(await bridge.stats());
  }
  // Everything closed: the bridge is back to its baseline connections and open files.
  await canaryClient.close();
  let after = await bridge.stats();
  for (let i = 0; i < 100 && (after.connections > 0 || after.fds > initial.fds); i++) {
    await new Promise((r) => setTimeout(r, 50));
    after = await bridge.stats();
  }
  const names = (await admin(g.port, "status")).map((l) => l.split("\t")[0]!);
  const gGrew = serverKind() === "gearmand" ? ((await rssKiB(g.pid)) - gBase) * 1024 : ((await retainedBytes()) - heldBase);
  const peakRetained = Math.max(...samples.map((s) => s.retained));
  const peakRss = Math.max(...samples.map((s) => s.rss));
  console.log(`E2: ${tally.episodes} connections, ${tally.messages} messages, ${rounds} rounds + canaries; closes ${JSON.stringify(Object.fromEntries(tally.closes))}`);
  console.log(`E2: bad kinds ${JSON.stringify(Object.fromEntries(tally.kinds))}; worker ERRORs ${JSON.stringify(Object.fromEntries(tally.workerErrors))}`);
  console.log(`E2: bridge RSS ${mib(base.rss)} → peak ${mib(peakRss)} → ${mib(after.rss)}; retained after GC ${mib(base.retained)} → peak ${mib(peakRetained)} → ${mib(after.retained)}; ` +
    `fds ${initial.fds} → ${after.fds}; ${serverKind()} ${gGrew >= 0 ? "+" : ""}${mib(gGrew)}${serverKind() === "embedded" ? " (held by this process)" : " RSS"}`);
  expect(after.connections).toBe(0);
  expect(after.fds).toBeLessThanOrEqual(initial.fds);
  expect(peakRetained - base.retained).toBeLessThan(24 << 20);
  expect(peakRss - base.rss).toBeLessThan(128 << 20);
  expect(gGrew).toBeLessThan(64 << 20);
  // Only allowed function names ever reached the server.
  expect(names.filter((n) => !FUNCS.includes(n))).toEqual([]);
  // The time budget produced real coverage.
  expect(tally.episodes).toBeGreaterThan(10 * SECONDS);
  for (const code of [1002, 1003, 1008, 1009]) expect(tally.closes.get(String(code)) ?? 0, `close ${code}`).toBeGreaterThan(0);
}, SECONDS * 1000 + 60_000);
