// Node only: node:net and ws. One WebSocket relayed to its own TCP connection to gearmand (spec/bridge.md §2.1 items 5-13).
/**
 * Packets pass uncopied, whole packets per WebSocket message both ways, except: uniques become `<principal>:<unique>` and lose
 * the prefix again in `STATUS_RES_UNIQUE` (workers see the prefixed unique: the one authenticated hint of who submitted);
 * a peer's `SET_CLIENT_ID` is dropped; `CAN_DO_TIMEOUT` becomes `CAN_DO`; `GET_STATUS` of a handle this connection was
 * not given is answered with `ERROR`.
 * @module
 */
import { connect } from "node:net";
import type { WebSocket } from "ws";
import type { ProtocolError } from "../src/errors.ts";
import { encodePacket, HEADER_SIZE, type Packet, PacketDecoder, PacketType as T, packetTypeName, utf8 } from "../src/protocol/mod.ts";
import { wrapSocket } from "../src/transports/tcp-node.ts";
import type { BridgeLimits, ConnectionLog, PacketLog } from "./bridge.ts";
import { checkRequest, type Principal, stripNamespace, SUBMITS, type TokenBucket, type Verdict } from "./policy.ts";

/** The relay's view of the bridge's settings. */
export type RelayConfig = { readonly [K in keyof BridgeLimits]-?: number } & {
  readonly upstream: { host: string; port: number };
  /** Gets a line per packet when the operator asked for them (`logPackets`). */ readonly trace: ((entry: PacketLog) => void) | undefined;
};

/** A principal's rate limits, shared by its connections. */
export type Buckets = { readonly [K in "submits" | "bytes" | "packets"]: TokenBucket };

/** A relayed connection, as the bridge holds it. */
export interface Relay { heartbeat(): void; close(code: number, reason: string): void }

// A GET_STATUS for a foreign handle goes upstream with this handle, so that gearmand's in-order reply
// marks the place for the synthesized ERROR; answering at once could overtake earlier replies.
const PLACEHOLDER = "bridge-denied-handle";
const DENIED = encodePacket(T.ERROR, ["PERMISSION_DENIED", "GET_STATUS is only allowed for handles this connection created"], "res");
const PROTOCOL_CLOSE: Record<string, number> = { too_large: 1009, unknown_type: 1008 };
const BAD_MAGIC = "not a Gearman request: every packet must start with \\0REQ (no admin text)";
const FOREGROUND: ReadonlySet<number> = new Set([T.SUBMIT_JOB, T.SUBMIT_JOB_HIGH, T.SUBMIT_JOB_LOW, T.SUBMIT_REDUCE_JOB]);
// Where a packet names its function, for the packet log: first in requests that submit or register, second in JOB_ASSIGN*.
const FUNCTION_ARG = new Map<number, number>([...[...SUBMITS, T.CAN_DO, T.CAN_DO_TIMEOUT, T.CANT_DO].map((t) => [t, 0] as const),
  [T.JOB_ASSIGN, 1], [T.JOB_ASSIGN_UNIQ, 1], [T.JOB_ASSIGN_ALL, 1]]);

/** What becomes of one packet of a chunk: new bytes in its place, null to leave it out, undefined to pass it as it came. */
type Edit = Exclude<Verdict, string>;

/** The bytes packet `p` takes on the wire. */
const sizeOf = (p: Packet): number => p.args.reduce((n, a) => n + a.length + 1, HEADER_SIZE - Math.min(1, p.args.length));

const counts = (a: Uint32Array): Record<string, number> =>
  Object.fromEntries([...a.entries()].filter(([, n]) => n > 0).map(([t, n]) => [packetTypeName(t), n]));

/**
 * `chunk` up to its last whole packet with `edits` (one per packet) applied, uncopied where nothing
 * changed, and the offset where that packet ended; a packet that began in an earlier chunk (`at` < 0) is encoded again.
 */
function reframe(chunk: Uint8Array, at: number, packets: readonly Packet[], edits: readonly Edit[]): [Uint8Array, number] {
  let parts: Uint8Array[] | undefined;
  let copied = 0;
  packets.forEach((p, i) => {
    const size = sizeOf(p);
    const edit = edits[i] === undefined && at < 0 ? encodePacket(p.type, p.args, p.magic) : edits[i];
    if (edit !== undefined) {
      (parts ??= []).push(chunk.subarray(copied, Math.max(at, 0)));
      if (edit) parts.push(edit);
      copied = at + size;
    }
    at += size;
  });
  const end = Math.max(at, 0);
  return [parts ? Buffer.concat([...parts, chunk.subarray(copied, end)]) : end === chunk.length ? chunk : chunk.subarray(0, end), at];
}

/** Relays `ws` to a new TCP connection to gearmand, checking every packet both ways; `done` gets the connection's log line. */
export function relay(ws: WebSocket, who: Principal, meta: { origin: string | undefined; remote: string }, cfg: RelayConfig,
  buckets: Buckets, done: (log: ConnectionLog) => void): Relay {
  const fromPeer = new PacketDecoder({ expect: "req", maxPacketSize: cfg.maxPacketSize });
  const fromServer = new PacketDecoder({ expect: "res" });
  // Two generations: evicting the oldest handle one by one scans a Set's deleted entries each time.
  let handles = new Set<string>(), olderHandles = new Set<string>();
  const started = Date.now(), packetsIn = new Uint32Array(43), packetsOut = new Uint32Array(43), submits: boolean[] = [];
  // Counted per reason: a peer repeating one denied packet must not grow the log line (or the bridge's memory).
  const denials: Record<string, number> = {};
  const deny = (why: string): void => void (denials[why] = (denials[why] ?? 0) + 1);
  let bytesIn = 0, bytesOut = 0, pings = 0, deniedStatus = 0, jobs = 0;
  // Bytes of gearmand's stream in a packet not yet complete; bytes given to ws.send and not yet written; ECHO_REQ bytes not yet answered.
  let partial = 0, unsent = 0, echoing = 0;
  let tcpBlocked = false, wsBlocked = false, wsPaused = false, throttled = false, inTick = false, closing: { code: number; reason: string } | undefined;
  const timers: NodeJS.Timeout[] = [];
  let slowTimer: NodeJS.Timeout | undefined, throttle: NodeJS.Timeout | undefined;
  const timer = (ms: number, fn: () => void): number => timers.push(setTimeout(fn, ms).unref());
  const trace = (direction: "in" | "out", p: Packet): void => {
    const i = FUNCTION_ARG.get(p.type);
    cfg.trace?.({ type: "packet", principal: who.id, direction, packet: packetTypeName(p.type), size: sizeOf(p), function: i === undefined ? undefined : utf8(p.args[i]!) });
  };

  const socket = connect({ ...cfg.upstream, noDelay: true }), tcp = wrapSocket(socket);
  const endTick = (): void => void ((inTick = false), socket.writableCorked && socket.uncork());
  // Attribution (T12): gearmand's `workers` shows the principal, and peers cannot change it.
  tcp.write(encodePacket(T.SET_CLIENT_ID, [who.id]));
  tcp.start({ data: fromUpstream, drain: () => ((tcpBlocked = false), updatePause()),
    closed: () => close(1011, "the connection to gearmand closed") });
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    if (closing) return;
    if (!isBinary) return close(1003, "text frames are not accepted: send binary \\0REQ packets");
    try {
      fromWs(data);
    } catch {
      // A bug here must cost this connection, not the bridge process and every other peer.
      close(1011, "internal bridge error");
    }
  });
  ws.on("pong", () => (pings = 0)).on("error", () => {});
  ws.on("close", (code: number, reason: Buffer) => {
    const end = (closing ??= { code, reason: reason.toString() });
    for (const t of [...timers, slowTimer, throttle]) clearTimeout(t);
    tcp.close();
    done({ type: "connection", principal: who.id, ...meta, durationMs: Date.now() - started, code: end.code, reason: end.reason,
      packetsIn: counts(packetsIn), packetsOut: counts(packetsOut), bytesIn, bytesOut, denials });
  });
  // The first packet must come in time; an empty message is no packet.
  timer(cfg.firstPacketMs, () => bytesIn > 0 || close(1008, `no packet within ${cfg.firstPacketMs} ms`));
  if (who.exp !== undefined) expiry(who.exp * 1000);

  function fromWs(data: Buffer): void {
    bytesIn += data.length;
    let packets: Packet[];
    try {
      packets = fromPeer.push(data);
    } catch (err) {
      const { reason, message } = err as ProtocolError;
      return close(PROTOCOL_CLOSE[reason] ?? 1002, reason === "bad_magic" ? BAD_MAGIC : message);
    }
    if (!fromPeer.idle) return close(1002, "message ends inside a packet: send whole packets per WebSocket message");
    // Check every packet before forwarding any, so a rejected message leaves nothing upstream.
    const edits: Edit[] = [];
    for (const p of packets) {
      packetsIn[p.type]!++;
      if (cfg.trace) trace("in", p);
      const verdict = checkRequest(p, who, buckets.submits);
      if (typeof verdict === "string") return close(1008, verdict);
      if (FOREGROUND.has(p.type) && ++jobs > cfg.maxJobsInFlight) return close(1008, `more than ${cfg.maxJobsInFlight} foreground jobs in flight`);
      if (SUBMITS.has(p.type)) submits.push(FOREGROUND.has(p.type));
      let edit: Edit = verdict;
      if (edit === null) deny("SET_CLIENT_ID is set by the bridge");
      else if (p.type === T.ECHO_REQ) echoing += p.args[0]!.length;
      else if (p.type === T.GET_STATUS && !handles.has(utf8(p.args[0]!)) && !olderHandles.has(utf8(p.args[0]!))) {
        deniedStatus++;
        deny("GET_STATUS of a foreign handle");
        edit = encodePacket(T.GET_STATUS, [PLACEHOLDER]);
      }
      edits.push(edit);
    }
    const [out] = reframe(data, 0, packets, edits);
    // A system call per tiny message stalled every peer for seconds: the first message of a tick goes out at once (no
    // added latency), the others of that tick are corked into one write.
    if (!inTick) (inTick = true), process.nextTick(endTick);
    else if (!socket.writableCorked) socket.cork();
    if (out.length > 0 && !tcp.write(out as Uint8Array<ArrayBuffer>)) tcpBlocked = true;
    // Over the principal's bytes/s or packets/s: stop reading until the debt is paid.
    const wait = Math.max(buckets.bytes.spend(data.length), buckets.packets.spend(packets.length));
    if (wait > 0 && !throttled) {
      throttled = true;
      throttle = setTimeout(() => ((throttled = false), updatePause()), wait).unref();
    }
    updatePause();
  }

  function fromUpstream(chunk: Uint8Array): void {
    if (closing) return;
    let packets: Packet[];
    try {
      packets = fromServer.push(chunk);
    } catch (err) {
      return close(1011, `gearmand sent an invalid packet: ${(err as Error).message}`);
    }
    // Each message holds whole packets, however gearmand's bytes were cut.
    const [out, end] = reframe(chunk, -partial, packets, packets.map(reply));
    partial = chunk.length - end;
    if (out.length > 0) send(out);
    updatePause();
  }

  /** Notes what one of gearmand's replies means for this connection; returns its rewrite, if any. */
  function reply(p: Packet): Edit {
    packetsOut[p.type]!++;
    if (cfg.trace) trace("out", p);
    if (p.type === T.JOB_CREATED) {
      submits.shift();
      handles.add(utf8(p.args[0]!));
      if (handles.size >= cfg.maxHandles) [olderHandles, handles] = [handles, new Set()];
    } else if (p.type === T.ECHO_RES) echoing -= p.args[0]!.length;
    else if (p.type === T.WORK_COMPLETE || p.type === T.WORK_FAIL || p.type === T.WORK_EXCEPTION) jobs = Math.max(0, jobs - 1);
    // gearmand answers each submit, in order, with JOB_CREATED or ERROR (`submits`: true for a foreground one still unanswered).
    // Only an ERROR answering a foreground submit ends a job: OPTION_REQ, WORK_* and background submits get ERRORs too.
    else if (p.type === T.ERROR && !/^(UNKNOWN_OPTION|JOB_NOT_FOUND)$/.test(utf8(p.args[0]!)) && submits.shift()) jobs = Math.max(0, jobs - 1);
    else if (p.type === T.STATUS_RES && deniedStatus > 0 && utf8(p.args[0]!) === PLACEHOLDER) {
      deniedStatus--;
      return DENIED;
    } else if (p.type === T.STATUS_RES_UNIQUE) return stripNamespace(p, who);
    return undefined;
  }

  function send(bytes: Uint8Array): void {
    const n = bytes.length;
    unsent += n;
    bytesOut += n;
    ws.send(bytes, () => {
      unsent -= n;
      if (!wsBlocked || unsent > cfg.lowWaterMark) return;
      wsBlocked = false;
      clearTimeout(slowTimer);
      tcp.resume();
      updatePause();
    });
    if (wsBlocked || unsent <= cfg.highWaterMark) return;
    wsBlocked = true;
    tcp.pause();
    slowTimer = setTimeout(() => close(1008, "slow consumer"), cfg.slowConsumerMs).unref();
  }

  // Coupled: while gearmand's replies cannot leave, stop reading the peer's requests as well; otherwise gearmand keeps
  // executing them and buffers their replies without limit. ECHO is the one request answered with its own size, and
  // loopback kernel buffers hide tens of MiB of it from tcp.write(), so unanswered ECHO bytes are capped at the high-water mark too.
  function updatePause(): void {
    const pause = tcpBlocked || wsBlocked || throttled || echoing > cfg.highWaterMark;
    if (closing || pause === wsPaused) return;
    wsPaused = pause;
    ws[pause ? "pause" : "resume"]();
  }

  function expiry(at: number): void {
    const left = at - Date.now();
    if (left <= 0) return close(4401, "token expired");
    timer(Math.min(left, 2 ** 31 - 1), () => expiry(at));
  }

  function close(code: number, reason: string): void {
    if (closing) return;
    closing = { code, reason };
    if (code !== 1000 && code !== 1001 && code !== 1011) deny(reason);
    // FIN after what was already forwarded; gearmand then requeues the jobs this peer held.
    tcp.close();
    let short = reason;
    while (Buffer.byteLength(short) > 123) short = short.slice(0, -1);
    ws.close(code, short);
    // A peer that stopped reading never answers the close frame.
    timer(cfg.closeGraceMs, () => ws.terminate());
  }

  function heartbeat(): void {
    // A paused socket cannot read pongs; the slow-consumer timer covers that case.
    if (closing || wsPaused) return;
    if (pings++ < 2) return ws.ping();
    closing = { code: 1006, reason: "no pong: peer terminated" };
    ws.terminate();
  }

  return { heartbeat, close };
}
