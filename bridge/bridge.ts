// Node only: node:http, node:net and ws. The policy-enforcing WebSocket ⇄ gearmand bridge (spec/bridge.md).
/**
 * Exposes one gearmand to web pages without handing it to every web page: authentication and Origin check at the
 * upgrade, connection caps, a heartbeat, and per WebSocket its own TCP connection to gearmand, with every packet read
 * and the policy enforced. Packets pass as they came, without a copy, except for these rewrites:
 * - the unique of `SUBMIT_*` and `GET_STATUS_UNIQUE` becomes `<principal>:<unique>` (an empty unique stays empty,
 *   `-` is refused); `STATUS_RES_UNIQUE` gets the prefix stripped again;
 * - `JOB_ASSIGN_UNIQ` / `JOB_ASSIGN_ALL` reach workers unchanged, so a worker sees the submitter's
 *   `<principal>:<unique>`: the one authenticated hint of who submitted a job;
 * - a peer's `SET_CLIENT_ID` is dropped (the bridge sends its own, the principal id);
 * - a `GET_STATUS` for a handle this connection did not get in `JOB_CREATED` is answered with
 *   `ERROR PERMISSION_DENIED`, in reply order.
 * @module
 */
import { createServer, type IncomingMessage, type Server, STATUS_CODES } from "node:http";
import { type AddressInfo, connect } from "node:net";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import type { ProtocolError } from "../src/errors.ts";
import { encodePacket, HEADER_SIZE, type Packet, PacketDecoder, PacketType as T, packetTypeName, utf8 } from "../src/protocol/mod.ts";
import { parseTcpAddress, wrapSocket } from "../src/transports/tcp-node.ts";
import { type HmacOptions, tokenVerifier, type Verify } from "./auth.ts";
import { checkRequest, type Principal, principalProblem, stripNamespace, TokenBucket } from "./policy.ts";

export type { Principal, Role } from "./policy.ts";
export { signToken, tokenVerifier, type TokenClaims, type Verify } from "./auth.ts";

/** Limits of the bridge; each has a safe default ({@link DEFAULT_LIMITS}). */
export interface BridgeLimits {
  /** Largest packet body from a peer; ws `maxPayload` is this + 12. @default 1048576 */ maxPacketSize?: number;
  /** @default 10000 */ maxConnections?: number;
  /** @default 1000 */ maxConnectionsPerPrincipal?: number;
  /** @default 1000 */ maxConnectionsPerIp?: number;
  /** Submits per second per principal; over it the connection closes with 1008 "rate limit". @default 1000 */ submitsPerSecond?: number;
  /** @default 2 × submitsPerSecond */ submitBurst?: number;
  /** @default 30000 */ firstPacketMs?: number;
  /** Ping interval; a peer is terminated after two missed pongs. @default 30000 */ heartbeatMs?: number;
  /** Time above the high-water mark before closing with 1008 "slow consumer". @default 10000 */ slowConsumerMs?: number;
  /** Unsent bytes towards a peer above which gearmand's socket is paused. @default 1048576 */ highWaterMark?: number;
  /** @default 262144 */ lowWaterMark?: number;
  /** HTTP headersTimeout of a server the bridge creates. @default 10000 */ headersTimeoutMs?: number;
  /** Time a peer gets to answer a close frame before it is terminated. @default 5000 */ closeGraceMs?: number;
  /** Job handles remembered per connection for GET_STATUS (the latest maxHandles, up to twice as many). @default 4096 */ maxHandles?: number;
}

/** The defaults of {@link BridgeLimits} (spec/bridge.md §2.1); `submitBurst` defaults to 2 × `submitsPerSecond`. */
export const DEFAULT_LIMITS: Readonly<Required<BridgeLimits>> = Object.freeze({
  maxPacketSize: 1 << 20, maxConnections: 10_000, maxConnectionsPerPrincipal: 1000, maxConnectionsPerIp: 1000,
  submitsPerSecond: 1000, submitBurst: 2000, firstPacketMs: 30_000, heartbeatMs: 30_000, slowConsumerMs: 10_000,
  highWaterMark: 1 << 20, lowWaterMark: 256 << 10, headersTimeoutMs: 10_000, closeGraceMs: 5000, maxHandles: 4096,
});

/** Who may connect and from where. */
export interface BridgePolicy {
  /** Decides who is connecting. @default tokenVerifier({ tokens, hmac }) */ verify?: Verify;
  /** Static bearer tokens → principals. */ tokens?: Record<string, Principal>;
  /** Signed expiring tokens. */ hmac?: HmacOptions;
  /** Allowed `Origin`s, exact `scheme://host[:port]`, or `*`. Requests without Origin (not browsers) pass. @default [] */
  origins?: readonly string[];
  /** Proxies whose `X-Forwarded-For` is believed for the per-IP cap. @default [] */ trustedProxies?: readonly string[];
}

/** The one log line per connection: metadata only, never payloads, uniques or tokens. */
export interface ConnectionLog {
  type: "connection";
  /** Who, from where, for how long, and how the connection ended. */
  principal: string; origin: string | undefined; remote: string; durationMs: number; code: number; reason: string;
  /** Packets per type name and bytes, each way, and the reasons of what was denied. */
  packetsIn: Record<string, number>; packetsOut: Record<string, number>; bytesIn: number; bytesOut: number; denials: string[];
}

/** Something that happened at the upgrade or to a connection; never payloads, uniques or tokens. */
export type BridgeLogEntry =
  | ConnectionLog
  | { type: "rejected"; status: number; reason: string; remote: string; origin: string | undefined };

/** Options of {@link startBridge}. */
export interface BridgeOptions {
  /** gearmand's `host:port`: the only target; clients can never choose another. */ upstream: string;
  /** @default 0 (a free port) */ port?: number;
  /** @default "127.0.0.1" */ host?: string;
  /** Mount on this listening server instead of creating one (its own timeouts then apply). */ server?: Server;
  /** @default "/gearman" */ path?: string;
  policy: BridgePolicy;
  limits?: BridgeLimits;
  /** @default one JSON line on stderr */ logger?: (entry: BridgeLogEntry) => void;
}

/** A running bridge. */
export interface Bridge {
  readonly port: number;
  /** `ws://host:port/path`. */ readonly url: string;
  /** Open WebSocket connections. */ readonly connections: number;
  /** Closes every connection with 1001 and stops listening. */ close(): Promise<void>;
}

type Config = Readonly<Required<BridgeLimits> & { upstream: { host: string; port: number } }>;
/** What happens to one packet of a chunk: new bytes in its place, null to leave it out, undefined to pass it as it came. */
type Edit = Uint8Array | null | undefined;

// A GET_STATUS for a foreign handle is sent upstream with this handle, so that gearmand's in-order
// reply marks the place where the synthesized ERROR goes; answering at once could overtake replies.
const PLACEHOLDER = "bridge-denied-handle";
const DENIED = encodePacket(T.ERROR, ["PERMISSION_DENIED", "GET_STATUS is only allowed for handles this connection created"], "res");
const PROTOCOL_CLOSE: Record<string, number> = { too_large: 1009, unknown_type: 1008 };
const BAD_MAGIC = "not a Gearman request: every packet must start with \\0REQ (no admin text)";

const counts = (a: Uint32Array): Record<string, number> =>
  Object.fromEntries([...a.entries()].filter(([, n]) => n > 0).map(([t, n]) => [packetTypeName(t), n]));

/** Bytes of a decoded packet on the wire: the header, the fields, and a NUL between each two. */
const wireSize = (p: Packet): number => p.args.reduce((n, a) => n + a.length, HEADER_SIZE + Math.max(0, p.args.length - 1));

/**
 * `chunk` up to its last whole packet with `edits` (one per packet) applied, uncopied where nothing changed, and the offset
 * where that packet ended; a packet that began in an earlier chunk (`at`, where the first one began, < 0) is re-encoded.
 */
function reframe(chunk: Uint8Array, at: number, packets: readonly Packet[], edits: readonly Edit[]): [Uint8Array, number] {
  let parts: Uint8Array[] | undefined;
  let copied = 0;
  packets.forEach((p, i) => {
    const size = wireSize(p);
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

/** Relays one accepted WebSocket to its own TCP connection to gearmand, checking every packet both ways. */
function relay(ws: WebSocket, who: Principal, meta: { origin: string | undefined; remote: string }, cfg: Config, bucket: TokenBucket,
  done: (log: ConnectionLog) => void): { heartbeat(): void; close(code: number, reason: string): void } {
  const fromPeer = new PacketDecoder({ expect: "req", maxPacketSize: cfg.maxPacketSize });
  const fromServer = new PacketDecoder({ expect: "res" });
  // Two generations: evicting the oldest handle one by one scans a Set's deleted entries each time.
  let handles = new Set<string>();
  let olderHandles = new Set<string>();
  const started = Date.now(), packetsIn = new Uint32Array(43), packetsOut = new Uint32Array(43), denials: string[] = [];
  let bytesIn = 0, bytesOut = 0, pings = 0, deniedStatus = 0;
  // Bytes of gearmand's stream (held by the decoder) of a packet not yet complete; bytes given to ws.send and not yet
  // written; ECHO_REQ bytes gearmand has not answered yet.
  let partial = 0, unsent = 0, echoing = 0;
  let tcpBlocked = false, wsBlocked = false, wsPaused = false;
  let closing: { code: number; reason: string } | undefined;
  const timers: NodeJS.Timeout[] = [];
  let slowTimer: NodeJS.Timeout | undefined;
  const timer = (ms: number, fn: () => void): number => timers.push(setTimeout(fn, ms).unref());

  const tcp = wrapSocket(connect({ ...cfg.upstream, noDelay: true }));
  // Attribution (T12): gearmand's `workers` shows the principal, and peers cannot change it.
  tcp.write(encodePacket(T.SET_CLIENT_ID, [who.id]));
  tcp.start({
    data: fromUpstream,
    drain() {
      tcpBlocked = false;
      updatePause();
    },
    closed: () => close(1011, "the connection to gearmand closed"),
  });
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
    for (const t of [...timers, slowTimer]) clearTimeout(t);
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
      const v = checkRequest(p, who, bucket);
      if (v.kind === "close") return close(v.code, v.reason);
      let edit: Edit = v.kind === "drop" ? null : v.args && encodePacket(p.type, v.args);
      if (v.kind === "drop") denials.push(v.reason);
      else if (p.type === T.GET_STATUS && !knownHandle(utf8(p.args[0]!))) {
        deniedStatus++;
        denials.push("GET_STATUS of a foreign handle");
        edit = encodePacket(T.GET_STATUS, [PLACEHOLDER]);
      } else if (p.type === T.ECHO_REQ) echoing += p.args[0]!.length;
      edits.push(edit);
    }
    const [out] = reframe(data, 0, packets, edits);
    if (out.length > 0 && !tcp.write(out as Uint8Array<ArrayBuffer>)) tcpBlocked = true;
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

  function knownHandle(handle: string): boolean {
    return handles.has(handle) || olderHandles.has(handle);
  }

  /** Notes what one of gearmand's replies means for this connection; returns its rewrite, if any. */
  function reply(p: Packet): Edit {
    packetsOut[p.type]!++;
    if (p.type === T.JOB_CREATED) {
      handles.add(utf8(p.args[0]!));
      if (handles.size >= cfg.maxHandles) [olderHandles, handles] = [handles, new Set()];
    } else if (p.type === T.ECHO_RES) echoing -= p.args[0]!.length;
    else if (p.type === T.STATUS_RES && deniedStatus > 0 && utf8(p.args[0]!) === PLACEHOLDER) {
      deniedStatus--;
      return DENIED;
    } else if (p.type === T.STATUS_RES_UNIQUE) {
      const unique = stripNamespace(p.args[0]!, who);
      if (unique !== p.args[0]) return encodePacket(p.type, [unique, ...p.args.slice(1)], "res");
    }
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

  // Coupled: while gearmand's replies cannot leave, stop reading the peer's requests as well;
  // otherwise gearmand keeps executing them and buffers their replies without limit. ECHO is the
  // one request answered with its own size, and loopback kernel buffers hide tens of MiB of it
  // from tcp.write(), so unanswered ECHO bytes are capped at the high-water mark too.
  function updatePause(): void {
    const pause = tcpBlocked || wsBlocked || echoing > cfg.highWaterMark;
    if (closing || pause === wsPaused) return;
    wsPaused = pause;
    if (pause) ws.pause();
    else ws.resume();
  }

  function expiry(at: number): void {
    const left = at - Date.now();
    if (left <= 0) return close(4401, "token expired");
    timer(Math.min(left, 2 ** 31 - 1), () => expiry(at));
  }

  /** Closes the WebSocket with a code and a reason, and the upstream connection with it. */
  function close(code: number, reason: string): void {
    if (closing) return;
    closing = { code, reason };
    if (code !== 1000 && code !== 1001 && code !== 1011) denials.push(reason);
    // FIN after what was already forwarded; gearmand then requeues the jobs this peer held.
    tcp.close();
    let short = reason;
    while (Buffer.byteLength(short) > 123) short = short.slice(0, -1);
    ws.close(code, short);
    // A peer that stopped reading never answers the close frame.
    timer(cfg.closeGraceMs, () => ws.terminate());
  }

  /** Pings, and terminates a peer that missed two pongs (the bridge's heartbeat calls this). */
  function heartbeat(): void {
    // A paused socket cannot read pongs; the slow-consumer timer covers that case.
    if (closing || wsPaused) return;
    if (pings++ < 2) return ws.ping();
    closing = { code: 1006, reason: "no pong: peer terminated" };
    ws.terminate();
  }

  return { heartbeat, close };
}

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
    `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  setTimeout(() => socket.destroy(), 1000).unref();
}

/**
 * Starts the bridge.
 * @example
 * ```ts
 * const bridge = await startBridge({ upstream: "127.0.0.1:4730",
 *   policy: { origins: ["https://app.example"], tokens: { [token]: { id: "web", roles: ["client"], submit: ["resize"] } } } });
 * console.log(bridge.url);
 * ```
 */
export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const { policy, limits } = options;
  const l = { ...DEFAULT_LIMITS, ...limits };
  const upstream = parseTcpAddress(options.upstream);
  const cfg: Config = Object.freeze({ ...l, submitBurst: limits?.submitBurst ?? l.submitsPerSecond * 2, upstream });
  const verify = policy.verify ?? tokenVerifier({ tokens: policy.tokens, hmac: policy.hmac });
  const origins = new Set(policy.origins ?? []);
  const proxies = new Set(policy.trustedProxies ?? []);
  const log = options.logger ?? ((e: BridgeLogEntry) => process.stderr.write(`${JSON.stringify(e)}\n`));
  const path = options.path ?? "/gearman";
  const relays = new Set<ReturnType<typeof relay>>();
  const buckets = new Map<string, TokenBucket>();
  // Connections open or being admitted, by cap: "" all, "ip <address>", "id <principal>".
  const held = new Map<string, number>();
  const full = (key: string, max: number): boolean => (held.get(key) ?? 0) >= max;
  const count = (key: string, d: number): void => {
    const n = (held.get(key) ?? 0) + d;
    if (n > 0) held.set(key, n);
    else held.delete(key);
  };
  let closing = false;
  let drained: (() => void) | undefined;

  // No permessage-deflate: −90 % throughput and a decompression-bomb surface (spec §2.1 item 14).
  const wss = new WebSocketServer({
    noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: cfg.maxPacketSize + 12,
    handleProtocols: (protocols) => (protocols.has("gearman.v1") ? "gearman.v1" : false),
  });

  const admit = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const direct = req.socket.remoteAddress ?? "unknown";
    const fwd = req.headers["x-forwarded-for"];
    const trusted = proxies.has(direct) && typeof fwd === "string";
    const remote = (trusted ? fwd.split(",").map((s) => s.trim()).filter((s) => s && !proxies.has(s)) : []).pop() ?? direct;
    const origin = req.headers.origin;
    const keys: string[] = [];
    const hold = (key: string): void => {
      keys.push(key);
      count(key, 1);
    };
    const release = (): void => keys.splice(0).forEach((k) => count(k, -1));
    const refuse = (status: number, reason: string): void => {
      release();
      log({ type: "rejected", status, reason, remote, origin });
      reject(socket, status, reason);
    };
    if (closing) return refuse(503, "the bridge is shutting down");
    // Browsers always send Origin, so a missing one is a non-browser peer that cannot ride on a user's cookies.
    if (origin !== undefined && !origins.has(origin) && !origins.has("*")) return refuse(403, "origin not allowed");
    if (full("", cfg.maxConnections)) return refuse(503, "too many connections");
    if (full(`ip ${remote}`, cfg.maxConnectionsPerIp)) return refuse(429, "too many connections from this address");
    // Held before the await, so that concurrent upgrades cannot all pass the caps.
    hold("");
    hold(`ip ${remote}`);
    socket.once("close", release);
    // A verify that throws refuses the peer like one that returns null.
    const who = await (async () => verify(req))().catch(() => null);
    if (socket.destroyed) return release();
    if (!who) return refuse(401, "missing or invalid token");
    if (principalProblem(who)) return refuse(500, "verify returned an unusable principal");
    if (full(`id ${who.id}`, cfg.maxConnectionsPerPrincipal)) return refuse(429, "too many connections for this principal");
    hold(`id ${who.id}`);
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off("close", release);
      const bucket = buckets.get(who.id) ?? new TokenBucket(cfg.submitsPerSecond, cfg.submitBurst);
      buckets.set(who.id, bucket);
      const r = relay(ws, who, { origin, remote }, cfg, bucket, (entry) => {
        relays.delete(r);
        release();
        log(entry);
        if (relays.size === 0) drained?.();
      });
      relays.add(r);
      if (closing) r.close(1001, "the bridge is shutting down");
    });
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => {});
    if (new URL(req.url ?? "/", "http://bridge").pathname === path) void admit(req, socket, head);
    // A mounted bridge leaves other paths to the server's other upgrade listeners.
    else if (!options.server) reject(socket, 404, "not found");
  };

  const headersTimeout = cfg.headersTimeoutMs;
  const server = options.server ?? createServer({ headersTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout) },
    (_req, res) => res.writeHead(426, { "Content-Type": "text/plain" }).end("WebSocket only\n"));
  server.on("upgrade", onUpgrade);
  if (!options.server) {
    await new Promise<void>((resolve, fail) => {
      server.once("error", fail).listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve);
    });
  }
  const addr = server.address() as AddressInfo | null;
  const host = options.host ?? addr?.address ?? "127.0.0.1";
  const port = addr?.port ?? 0;

  const heartbeat = setInterval(() => {
    for (const r of relays) r.heartbeat();
    for (const [id, b] of buckets) if (!held.has(`id ${id}`) && b.full) buckets.delete(id);
  }, cfg.heartbeatMs).unref();

  return {
    port,
    url: `ws://${host.includes(":") ? `[${host}]` : host}:${port}${path}`,
    get connections() {
      return relays.size;
    },
    async close() {
      closing = true;
      clearInterval(heartbeat);
      server.off("upgrade", onUpgrade);
      const gone = new Promise<void>((resolve) => (drained = resolve));
      for (const r of relays) r.close(1001, "the bridge is shutting down");
      if (relays.size > 0) await gone;
      if (!options.server) await new Promise((resolve) => server.close(resolve).closeAllConnections());
    },
  };
}
