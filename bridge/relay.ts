// Node only: node:net and ws. One WebSocket ⇄ one TCP connection to gearmand, every packet read and checked.
/**
 * The per-connection relay: whole packets per WebSocket message both ways, policy on every
 * request, the documented rewrites, coupled backpressure, timers, and one log line at the end.
 * @module
 */
import { connect, type Socket } from "node:net";
import type { WebSocket } from "ws";
import type { ProtocolError } from "../src/errors.ts";
import { utf8 } from "../src/protocol/bytes.ts";
import { PacketDecoder } from "../src/protocol/decoder.ts";
import { encodePacket, PacketWriter } from "../src/protocol/packet.ts";
import { PacketType as T, packetTypeName } from "../src/protocol/packet-types.ts";
import { checkRequest, isSubmit, type Principal, stripNamespace, type TokenBucket } from "./policy.ts";

/** Limits of the bridge; each has a safe default ({@link DEFAULT_LIMITS}). */
export interface BridgeLimits {
  /** Largest packet body from a peer; ws `maxPayload` is this + 12. @default 1048576 */
  maxPacketSize?: number;
  /** @default 10000 */
  maxConnections?: number;
  /** @default 1000 */
  maxConnectionsPerPrincipal?: number;
  /** @default 1000 */
  maxConnectionsPerIp?: number;
  /** Submits per second per principal; over it the connection closes with 1008 "rate limit". @default 1000 */
  submitsPerSecond?: number;
  /** @default 2 × submitsPerSecond */
  submitBurst?: number;
  /** @default 30000 */
  firstPacketMs?: number;
  /** Ping interval; a peer is terminated after two missed pongs. @default 30000 */
  heartbeatMs?: number;
  /** Time above the high-water mark before closing with 1008 "slow consumer". @default 10000 */
  slowConsumerMs?: number;
  /** Unsent bytes towards a peer above which gearmand's socket is paused. @default 1048576 */
  highWaterMark?: number;
  /** @default 262144 */
  lowWaterMark?: number;
  /** HTTP headersTimeout of a server the bridge creates. @default 10000 */
  headersTimeoutMs?: number;
  /** Time a peer gets to answer a close frame before it is terminated. @default 5000 */
  closeGraceMs?: number;
  /** Job handles remembered per connection for GET_STATUS. @default 4096 */
  maxHandles?: number;
}

/** The defaults of {@link BridgeLimits} (spec/bridge.md §2.1); `submitBurst` defaults to 2 × `submitsPerSecond`. */
export const DEFAULT_LIMITS: Readonly<Required<BridgeLimits>> = Object.freeze({
  maxPacketSize: 1 << 20, maxConnections: 10_000, maxConnectionsPerPrincipal: 1000, maxConnectionsPerIp: 1000,
  submitsPerSecond: 1000, submitBurst: 2000, firstPacketMs: 30_000, heartbeatMs: 30_000, slowConsumerMs: 10_000,
  highWaterMark: 1 << 20, lowWaterMark: 256 << 10, headersTimeoutMs: 10_000, closeGraceMs: 5000, maxHandles: 4096,
});

/** The resolved limits plus the one upstream, as each relay gets them. */
export type RelayConfig = Readonly<Required<BridgeLimits> & { upstream: { host: string; port: number } }>;

/** The one log line per connection: metadata only, never payloads, uniques or tokens. */
export interface ConnectionLog {
  type: "connection";
  principal: string;
  origin: string | undefined;
  remote: string;
  durationMs: number;
  code: number;
  reason: string;
  packetsIn: Record<string, number>;
  packetsOut: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
  denials: string[];
}

// A GET_STATUS for a foreign handle is sent upstream with this handle, so that gearmand's in-order
// reply marks the place where the synthesized ERROR goes; answering at once could overtake replies.
const PLACEHOLDER = "bridge-denied-handle";
const DENIED_TEXT = "GET_STATUS is only allowed for handles this connection created";

function counts(a: Uint32Array): Record<string, number> {
  const out: Record<string, number> = {};
  a.forEach((n, t) => {
    if (n > 0) out[packetTypeName(t)] = n;
  });
  return out;
}

const PROTOCOL_CLOSE: Record<string, number> = { too_large: 1009, unknown_type: 1008 };

/** Relays one accepted WebSocket to its own TCP connection to gearmand. */
export class Relay {
  readonly principal: Principal;
  #ws: WebSocket;
  #tcp: Socket;
  #cfg: RelayConfig;
  #bucket: TokenBucket;
  #fromPeer: PacketDecoder;
  #fromServer = new PacketDecoder({ expect: "res" });
  #handles = new Set<string>();
  #deniedStatus = 0;
  #unsent = 0;
  #echoing = 0;
  #tcpBlocked = false;
  #wsBlocked = false;
  #wsPaused = false;
  #awaitingPong = false;
  #missedPongs = 0;
  #closing: { code: number; reason: string } | undefined;
  #timers: ReturnType<typeof setTimeout>[] = [];
  #slowTimer: ReturnType<typeof setTimeout> | undefined;
  #firstPacket: ReturnType<typeof setTimeout>;
  #started = Date.now();
  #in = new Uint32Array(43);
  #out = new Uint32Array(43);
  #bytesIn = 0;
  #bytesOut = 0;
  #denials: string[] = [];
  #ended: (() => void)[] | undefined = [];

  constructor(ws: WebSocket, principal: Principal, meta: { origin: string | undefined; remote: string }, cfg: RelayConfig,
    bucket: TokenBucket, done: (log: ConnectionLog) => void) {
    this.#ws = ws;
    this.principal = principal;
    this.#cfg = cfg;
    this.#bucket = bucket;
    this.#fromPeer = new PacketDecoder({ expect: "req", maxPacketSize: cfg.maxPacketSize });
    this.#tcp = connect({ ...cfg.upstream, noDelay: true });
    // Attribution (T12): gearmand's `workers` shows the principal, and peers cannot change it.
    this.#tcp.write(encodePacket(T.SET_CLIENT_ID, [principal.id]));
    this.#tcp.on("data", (chunk: Buffer) => this.#fromUpstream(chunk));
    this.#tcp.on("drain", () => {
      this.#tcpBlocked = false;
      this.#updatePause();
    });
    this.#tcp.on("error", () => {});
    this.#tcp.on("close", () => this.close(1011, "the connection to gearmand closed"));
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      try {
        this.#fromWs(data, isBinary);
      } catch {
        // A bug here must cost this connection, not the bridge process and every other peer.
        this.close(1011, "internal bridge error");
      }
    });
    ws.on("pong", () => {
      this.#awaitingPong = false;
      this.#missedPongs = 0;
    });
    ws.on("error", () => {});
    ws.on("close", (code: number, reason: Buffer) => {
      const end = (this.#closing ??= { code, reason: reason.toString() });
      for (const t of this.#timers) clearTimeout(t);
      clearTimeout(this.#slowTimer);
      this.#endUpstream();
      done({
        type: "connection", principal: principal.id, origin: meta.origin, remote: meta.remote,
        durationMs: Date.now() - this.#started, code: end.code, reason: end.reason, packetsIn: counts(this.#in),
        packetsOut: counts(this.#out), bytesIn: this.#bytesIn, bytesOut: this.#bytesOut, denials: this.#denials,
      });
      const waiting = this.#ended ?? [];
      this.#ended = undefined;
      for (const fn of waiting) fn();
    });
    this.#firstPacket = this.#timer(cfg.firstPacketMs, () => this.close(1008, `no packet within ${cfg.firstPacketMs} ms`));
    if (principal.exp !== undefined) this.#expiry(principal.exp * 1000);
  }

  /** Called by the bridge's heartbeat: ping, and terminate a peer that missed two pongs. */
  heartbeat(): void {
    // A paused socket cannot read pongs; the slow-consumer timer covers that case.
    if (this.#closing || this.#wsPaused) return;
    if (this.#awaitingPong && ++this.#missedPongs >= 2) {
      this.#closing = { code: 1006, reason: "no pong: peer terminated" };
      this.#ws.terminate();
      return;
    }
    this.#awaitingPong = true;
    this.#ws.ping();
  }

  /** Calls `fn` once the WebSocket has closed (at once if it already has). */
  onEnd(fn: () => void): void {
    if (this.#ended) this.#ended.push(fn);
    else fn();
  }

  /** Closes the WebSocket with a code and a reason, and the upstream connection with it. */
  close(code: number, reason: string): void {
    if (this.#closing) return;
    this.#closing = { code, reason };
    if (code !== 1000 && code !== 1001 && code !== 1011) this.#denials.push(reason);
    this.#endUpstream();
    let short = reason;
    while (Buffer.byteLength(short) > 123) short = short.slice(0, -1);
    this.#ws.close(code, short);
    // A peer that stopped reading never answers the close frame.
    this.#timer(this.#cfg.closeGraceMs, () => this.#ws.terminate());
  }

  #fromWs(data: Buffer, isBinary: boolean): void {
    if (this.#closing) return;
    clearTimeout(this.#firstPacket);
    if (!isBinary) return this.close(1003, "text frames are not accepted: send binary \\0REQ packets");
    this.#bytesIn += data.length;
    let packets;
    try {
      packets = this.#fromPeer.push(data);
    } catch (err) {
      const e = err as ProtocolError;
      return this.close(PROTOCOL_CLOSE[e.reason] ?? 1002, e.reason === "bad_magic" ? "not a Gearman request: every packet must start with \\0REQ (no admin text)" : e.message);
    }
    if (!this.#fromPeer.idle) return this.close(1002, "message ends inside a packet: send whole packets per WebSocket message");
    // Check every packet before forwarding any, so a rejected message leaves nothing upstream.
    // A writer per message rather than per connection: idle connections then hold no buffers.
    const w = new PacketWriter(data.length + 64);
    for (const p of packets) {
      this.#in[p.type]!++;
      if (isSubmit(p.type) && !this.#bucket.take()) {
        return this.close(1008, `rate limit: more than ${this.#cfg.submitsPerSecond} submits/s`);
      }
      const v = checkRequest(p, this.principal, (h) => this.#handles.has(utf8(h)));
      if (v.kind === "close") return this.close(v.code, v.reason);
      if (v.kind === "drop") this.#denials.push(v.reason);
      else if (v.kind === "deny-status") {
        this.#deniedStatus++;
        this.#denials.push("GET_STATUS of a foreign handle");
        w.write(T.GET_STATUS, [PLACEHOLDER]);
      } else {
        if (p.type === T.ECHO_REQ) this.#echoing += p.args[0]!.length;
        w.write(p.type, v.args ?? p.args);
      }
    }
    if (w.length > 0 && !this.#tcp.write(w.take())) this.#tcpBlocked = true;
    this.#updatePause();
  }

  #fromUpstream(chunk: Buffer): void {
    if (this.#closing) return;
    let packets;
    try {
      packets = this.#fromServer.push(chunk);
    } catch (err) {
      return this.close(1011, `gearmand sent an invalid packet: ${(err as Error).message}`);
    }
    const w = new PacketWriter(chunk.length + 64);
    for (const p of packets) {
      this.#out[p.type]!++;
      let args = p.args;
      if (p.type === T.JOB_CREATED) {
        this.#handles.add(utf8(p.args[0]!));
        if (this.#handles.size > this.#cfg.maxHandles) this.#handles.delete(this.#handles.values().next().value!);
      } else if (p.type === T.STATUS_RES && this.#deniedStatus > 0 && utf8(p.args[0]!) === PLACEHOLDER) {
        this.#deniedStatus--;
        w.write(T.ERROR, ["PERMISSION_DENIED", DENIED_TEXT], "res");
        continue;
      } else if (p.type === T.ECHO_RES) {
        this.#echoing -= p.args[0]!.length;
      } else if (p.type === T.STATUS_RES_UNIQUE) {
        args = [stripNamespace(p.args[0]!, this.principal), ...p.args.slice(1)];
      }
      w.write(p.type, args, "res");
    }
    if (w.length > 0) this.#send(w.take());
    this.#updatePause();
  }

  // Re-framed: each message holds whole packets, however gearmand's bytes were chunked.
  #send(bytes: Uint8Array): void {
    const n = bytes.length;
    this.#unsent += n;
    this.#bytesOut += n;
    this.#ws.send(bytes, { binary: true }, () => {
      this.#unsent -= n;
      if (this.#wsBlocked && this.#unsent <= this.#cfg.lowWaterMark) {
        this.#wsBlocked = false;
        clearTimeout(this.#slowTimer);
        this.#updatePause();
      }
    });
    if (!this.#wsBlocked && this.#unsent > this.#cfg.highWaterMark) {
      this.#wsBlocked = true;
      this.#slowTimer = setTimeout(() => this.close(1008, "slow consumer"), this.#cfg.slowConsumerMs).unref();
      this.#updatePause();
    }
  }

  // Coupled: while gearmand's replies cannot leave, stop reading the peer's requests as well;
  // otherwise gearmand keeps executing them and buffers their replies without limit. ECHO is the
  // one request answered with its own size, and loopback kernel buffers hide tens of MiB of it
  // from tcp.write(), so unanswered ECHO bytes are capped at the high-water mark too.
  #updatePause(): void {
    if (this.#closing) return;
    const pauseWs = this.#tcpBlocked || this.#wsBlocked || this.#echoing > this.#cfg.highWaterMark;
    if (pauseWs !== this.#wsPaused) {
      this.#wsPaused = pauseWs;
      if (pauseWs) this.#ws.pause();
      else this.#ws.resume();
    }
    if (this.#wsBlocked) this.#tcp.pause();
    else this.#tcp.resume();
  }

  #endUpstream(): void {
    if (this.#tcp.destroyed) return;
    // FIN after what was already forwarded; gearmand then requeues the jobs this peer held.
    this.#tcp.end();
    setTimeout(() => this.#tcp.destroy(), 2000).unref();
  }

  #expiry(at: number): void {
    const left = at - Date.now();
    if (left <= 0) return this.close(4401, "token expired");
    this.#timer(Math.min(left, 2 ** 31 - 1), () => this.#expiry(at));
  }

  #timer(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const t = setTimeout(fn, ms);
    t.unref();
    this.#timers.push(t);
    return t;
  }
}
