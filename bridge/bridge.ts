// Node only: node:http and ws. The policy-enforcing WebSocket ⇄ gearmand bridge (spec/bridge.md).
/**
 * Exposes one gearmand to web pages without handing it to every web page: authentication, Origin check and connection
 * caps at the upgrade, a heartbeat, and per WebSocket a {@link relay} to its own TCP connection to gearmand.
 * @module
 */
import { createServer, type IncomingMessage, type Server, STATUS_CODES } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import { formatServerAddress, parseServerAddress } from "../src/transports/address.ts";
import { type HmacOptions, tokenVerifier, type Verify } from "./auth.ts";
import { isList, knownKeys, principalProblem, type Principal, tokenBucket } from "./policy.ts";
import { type Buckets, type Relay, relay, type RelayConfig } from "./relay.ts";

export type { Principal, Role } from "./policy.ts";
export { signToken, tokenVerifier, type TokenClaims, type Verify } from "./auth.ts";

// The limits and their defaults (spec/bridge.md §2.1); `submitBurst` defaults to 2 × `submitsPerSecond`. Each must be a whole
// number from 1 (0 for lowWaterMark) to 2³¹ − 1, the longest setTimeout: a typo or a string (`n >= "1x"` is false) would lift a cap.
const LIMITS = {
  /** Largest packet body from a peer; ws `maxPayload` is this + 12. @default 1 MiB */ maxPacketSize: 1_048_576,
  /** Open WebSockets, in all. @default 10000 */ maxConnections: 10_000,
  /** Open WebSockets per principal; over it the upgrade gets 429. @default 1000 */ maxConnectionsPerPrincipal: 1000,
  /** Open WebSockets per client address (see `trustedProxies`); over it the upgrade gets 429. @default 1000 */ maxConnectionsPerIp: 1000,
  /** Submits per second per principal; over it the connection closes with 1008 "rate limit". @default 1000 */ submitsPerSecond: 1000,
  /** Submits a principal may make at once before `submitsPerSecond` applies. @default 2 × submitsPerSecond */ submitBurst: 2000,
  /** Bytes per second per principal from its peers; over it the bridge stops reading them for a while. @default 64 MiB */ bytesPerSecond: 67_108_864,
  /** Packets per second per principal from its peers (tiny packets cost gearmand more than bytes say); over it, as bytes/s. @default 100000 */ packetsPerSecond: 100_000,
  /** Foreground jobs submitted and not yet ended, per connection; over it the connection closes with 1008. @default 1000 */ maxJobsInFlight: 1000,
  /** Time to the first packet. @default 30000 */ firstPacketMs: 30_000,
  /** Ping interval; a peer is terminated after two missed pongs. @default 30000 */ heartbeatMs: 30_000,
  /** Time above the high-water mark before closing with 1008 "slow consumer". @default 10000 */ slowConsumerMs: 10_000,
  /** Unsent bytes towards a peer above which gearmand's socket is paused. @default 1 MiB */ highWaterMark: 1_048_576,
  /** … and below which it is resumed. @default 256 KiB */ lowWaterMark: 262_144,
  /** HTTP headersTimeout of a server the bridge creates. @default 10000 */ headersTimeoutMs: 10_000,
  /** Time a peer gets to answer a close frame before it is terminated. @default 5000 */ closeGraceMs: 5000,
  /** Job handles remembered per connection for GET_STATUS (the latest maxHandles, up to twice as many). @default 4096 */ maxHandles: 4096,
};
const least = (k: string): number => (k === "lowWaterMark" ? 0 : 1);

/** Limits of the bridge; each has a safe default. */
export type BridgeLimits = { [K in keyof typeof LIMITS]?: number | undefined };

/** Who may connect and from where. */
export interface BridgePolicy {
  /** Decides who is connecting. @default tokenVerifier({ tokens, hmac }) */ verify?: Verify | undefined;
  /** Static bearer tokens → principals. */ tokens?: Record<string, Principal> | undefined;
  /** Signed expiring tokens. */ hmac?: HmacOptions | undefined;
  /** Allowed `Origin`s, exact `scheme://host[:port]`, or `*`. Requests without Origin (not browsers) pass. @default [] */
  origins?: readonly string[] | undefined;
  /** Proxies whose `X-Forwarded-For` is believed for the per-IP cap. @default [] */ trustedProxies?: readonly string[] | undefined;
}

/** The one log line per connection: metadata only, never payloads, uniques or tokens. */
export interface ConnectionLog {
  /** Always `"connection"`. */ type: "connection";
  /** The principal's id. */ principal: string;
  /** The `Origin` header, if any (its first 256 characters). */ origin: string | undefined;
  /** The peer's address (from `X-Forwarded-For` behind a trusted proxy). */ remote: string;
  /** Time open, in ms. */ durationMs: number;
  /** The WebSocket close code. */ code: number;
  /** The WebSocket close reason. */ reason: string;
  /** Packets from the peer, per type name. */ packetsIn: Record<string, number>;
  /** Packets to the peer, per type name. */ packetsOut: Record<string, number>;
  /** Bytes from the peer. */ bytesIn: number;
  /** Bytes to the peer. */ bytesOut: number;
  /** What was refused or dropped, and why a policy close came, with how often. */ denials: Record<string, number>;
}

/** One packet, logged only with `logPackets` (for debugging a policy): never its payload, unique or handle. */
export interface PacketLog {
  /** Always `"packet"`. */ type: "packet";
  /** The principal's id. */ principal: string;
  /** `in` from the peer, `out` to it. */ direction: "in" | "out";
  /** The packet type's name. */ packet: string;
  /** Bytes on the wire, header included. */ size: number;
  /** The function it submits, registers or assigns, if it names one. */ function: string | undefined;
}

/** Something that happened at the upgrade or to a connection; never payloads, uniques or tokens. */
export type BridgeLogEntry =
  | ConnectionLog
  | PacketLog
  | { type: "rejected"; status: number; reason: string; remote: string; origin: string | undefined };

/** Options of {@link startBridge}. */
export interface BridgeOptions {
  /** gearmand's `host:port`: the only target; clients can never choose another. */ upstream: string;
  /** @default 0 (a free port) */ port?: number | undefined;
  /** @default "127.0.0.1" */ host?: string | undefined;
  /** Mount on this listening server instead of creating one (its own timeouts then apply). */ server?: Server | undefined;
  /** @default "/gearman" */ path?: string | undefined;
  /** Who may connect and from where: required, there is no open default. */ policy: BridgePolicy;
  /** Caps and timeouts; unknown keys and values that are not whole numbers in range stop the start. */ limits?: BridgeLimits | undefined;
  /** @default one JSON line on stderr */ logger?: ((entry: BridgeLogEntry) => void) | undefined;
  /** Also log every packet (type, function, size): costly, for debugging a policy. @default false */ logPackets?: boolean | undefined;
}

/** A running bridge. */
export interface Bridge {
  /** The port it listens on (the real one when 0 was asked for). */ readonly port: number;
  /** `ws://host:port/path`. */ readonly url: string;
  /** Open WebSocket connections. */ readonly connections: number;
  /** Closes every connection with 1001 and stops listening. */ close(): Promise<void>;
}

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
    `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  setTimeout(() => socket.destroy(), 1000).unref();
}

/**
 * Starts the bridge: listens on `host:port` (or mounts on `server`) and relays each admitted WebSocket to its own TCP
 * connection to `upstream`. Refusals at the upgrade are HTTP 401/403/429/503 (404 for another path); a policy
 * violation later closes the WebSocket with 1002/1003/1008/1009/4401 and a reason.
 * @throws {TypeError} (as a rejection) without a policy, for an unknown key in `policy`, its `hmac`, `limits` or a
 * static token's principal, a limit that is not a whole number in range, a bad principal, or a `path` without its
 * leading `/`; `InvalidArgumentError` for an `upstream` that is not `host:port`; the listener's error when it cannot
 * listen.
 * @example
 * ```ts
 * const bridge = await startBridge({ upstream: "127.0.0.1:4730",
 *   policy: { origins: ["https://app.example"], tokens: { [token]: { id: "web", roles: ["client"], submit: ["resize"] } } } });
 * console.log(bridge.url);
 * ```
 */
export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const { policy } = options;
  if (!policy) throw new TypeError("startBridge needs a policy (tokens, hmac or verify): without one it would hand gearmand to every page");
  const limits: Partial<typeof LIMITS> = Object.fromEntries(Object.entries(options.limits ?? {}).filter(([, v]) => v !== undefined));
  knownKeys(policy, ["verify", "tokens", "hmac", "origins", "trustedProxies"], "policy key");
  knownKeys(policy.hmac ?? {}, ["secret", "audience"], "hmac key");
  knownKeys(limits, Object.keys(LIMITS), "limit");
  const [k, v] = Object.entries(limits).find(([k, v]) => !Number.isInteger(v) || v < least(k) || v >= 2 ** 31) ?? [];
  if (k) throw new TypeError(`limit ${k} must be a whole number from ${least(k)} to ${2 ** 31 - 1}, not the ${typeof v} ${String(v)}`);
  if (![policy.origins, policy.trustedProxies].every(isList)) throw new TypeError("policy origins and trustedProxies must be lists of strings");
  const l = { ...LIMITS, ...limits };
  const upstream = parseServerAddress(options.upstream);
  const log = (e: BridgeLogEntry): void => {
    try {
      (options.logger ?? ((x: BridgeLogEntry) => process.stderr.write(`${JSON.stringify(x)}\n`)))(e);
    } catch {
      // A logger that throws must not take every other connection down with the process, nor leave a refused peer hanging.
    }
  };
  const cfg: RelayConfig = Object.freeze({ ...l, submitBurst: limits.submitBurst ?? l.submitsPerSecond * 2, upstream,
    trace: options.logPackets ? log : undefined });
  const verify = policy.verify ?? tokenVerifier({ tokens: policy.tokens, hmac: policy.hmac });
  const origins = new Set(policy.origins ?? []);
  const proxies = new Set(policy.trustedProxies ?? []);
  const path = options.path ?? "/gearman";
  if (!path.startsWith("/")) throw new TypeError(`path must start with "/", not ${JSON.stringify(path)}`);
  const relays = new Set<Relay>();
  const buckets = new Map<string, Buckets>();
  // Connections open or being admitted, by cap: "" all, "ip <address>", "id <principal>".
  const held = new Map<string, number>();
  const full = (key: string, max: number): boolean => (held.get(key) ?? 0) >= max;
  const count = (key: string, d: number): void => {
    const n = (held.get(key) ?? 0) + d;
    if (n > 0) held.set(key, n);
    else held.delete(key);
  };
  let closing = false, drained: (() => void) | undefined;

  // No permessage-deflate: −90 % throughput and a decompression-bomb surface (spec §2.1 item 14).
  const wss = new WebSocketServer({
    noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: cfg.maxPacketSize + 12,
    handleProtocols: (protocols) => (protocols.has("gearman.v1") ? "gearman.v1" : false),
  });

  const admit = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; proxies are configured as a.b.c.d.
    const direct = (req.socket.remoteAddress ?? "unknown").replace(/^::ffff:(?=\d+\.)/, "");
    const fwd = req.headers["x-forwarded-for"];
    const trusted = proxies.has(direct) && typeof fwd === "string";
    const remote = (trusted ? fwd.split(",").map((s) => s.trim()).filter((s) => s && !proxies.has(s)) : []).pop() ?? direct;
    const origin = req.headers.origin;
    const keys: string[] = [];
    const hold = (key: string): void => void (keys.push(key), count(key, 1));
    const release = (): void => keys.splice(0).forEach((k) => count(k, -1));
    const refuse = (status: number, reason: string): void => {
      release();
      log({ type: "rejected", status, reason, remote, origin: origin?.slice(0, 256) });
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
    if (!who || (who.exp ?? Infinity) * 1000 <= Date.now()) return refuse(401, "missing, invalid or expired token");
    if (principalProblem(who)) return refuse(500, "verify returned an unusable principal");
    if (full(`id ${who.id}`, cfg.maxConnectionsPerPrincipal)) return refuse(429, "too many connections for this principal");
    hold(`id ${who.id}`);
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off("close", release);
      const bucket = buckets.get(who.id) ?? { submits: tokenBucket(cfg.submitsPerSecond, cfg.submitBurst),
        bytes: tokenBucket(cfg.bytesPerSecond, cfg.bytesPerSecond), packets: tokenBucket(cfg.packetsPerSecond, cfg.packetsPerSecond) };
      buckets.set(who.id, bucket);
      const r = relay(ws, who, { origin: origin?.slice(0, 256), remote }, cfg, bucket, (entry) => {
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
    // Compared as it came: `new URL` throws on targets like "//[", and a throw here would end the process.
    if (req.url?.split("?")[0] === path) void admit(req, socket, head);
    // A mounted bridge leaves other paths to the server's other upgrade listeners.
    else if (!options.server) reject(socket, 404, "not found");
  };

  const headersTimeout = cfg.headersTimeoutMs;
  const server = options.server ?? createServer({ headersTimeout, requestTimeout: headersTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout) },
    (_req, res) => res.writeHead(426, { "Content-Type": "text/plain", Connection: "close" }).end("WebSocket only\n"));
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
    for (const [id, b] of buckets) if (!held.has(`id ${id}`) && Object.values(b).every((x) => x.full)) buckets.delete(id);
  }, cfg.heartbeatMs).unref();

  return {
    port,
    url: `ws://${formatServerAddress(host, port)}${path}`,
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
