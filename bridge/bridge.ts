// Node only: node:http and ws. The policy-enforcing WebSocket ⇄ gearmand bridge (spec/bridge.md).
/**
 * Exposes one gearmand to web pages without handing it to every web page: authentication and
 * Origin check at the upgrade, connection caps, a heartbeat, and a relay per connection that
 * reads every packet and enforces the policy. Packets pass unchanged except for these rewrites:
 * - the unique of `SUBMIT_*` and `GET_STATUS_UNIQUE` becomes `<principal>:<unique>` (an empty
 *   unique stays empty, `-` is refused); `STATUS_RES_UNIQUE` gets the prefix stripped again;
 * - `JOB_ASSIGN_UNIQ` / `JOB_ASSIGN_ALL` reach workers unchanged, so a worker sees the
 *   submitter's `<principal>:<unique>`: the one authenticated hint of who submitted a job;
 * - a peer's `SET_CLIENT_ID` is dropped (the bridge sends its own, the principal id);
 * - a `GET_STATUS` for a handle this connection did not get in `JOB_CREATED` is answered with
 *   `ERROR PERMISSION_DENIED`, in reply order.
 * @module
 */
import { createServer, type IncomingMessage, type Server, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import { parseTcpAddress } from "../src/transports/tcp-node.ts";
import { type HmacOptions, tokenVerifier, type Verify } from "./auth.ts";
import { type Principal, principalProblem, TokenBucket } from "./policy.ts";
import { type BridgeLimits, type ConnectionLog, DEFAULT_LIMITS, Relay, type RelayConfig } from "./relay.ts";

export { type BridgeLimits, type ConnectionLog, DEFAULT_LIMITS } from "./relay.ts";
export type { Principal, Role } from "./policy.ts";
export { signToken, tokenVerifier, type TokenClaims, type Verify } from "./auth.ts";

/** Who may connect and from where. */
export interface BridgePolicy {
  /** Decides who is connecting. @default tokenVerifier({ tokens, hmac }) */
  verify?: Verify;
  /** Static bearer tokens → principals. */
  tokens?: Record<string, Principal>;
  /** Signed expiring tokens. */
  hmac?: HmacOptions;
  /** Allowed `Origin`s, exact `scheme://host[:port]`, or `*`. Requests without Origin (not browsers) pass. @default [] */
  origins?: readonly string[];
  /** Proxies whose `X-Forwarded-For` is believed for the per-IP cap. @default [] */
  trustedProxies?: readonly string[];
}

/** Something that happened at the upgrade or to a connection; never payloads, uniques or tokens. */
export type BridgeLogEntry = ConnectionLog | { type: "rejected"; status: number; reason: string; remote: string; origin: string | undefined };

/** Options of {@link startBridge}. */
export interface BridgeOptions {
  /** gearmand's `host:port`: the only target; clients can never choose another. */
  upstream: string;
  /** @default 0 (a free port) */
  port?: number;
  /** @default "127.0.0.1" */
  host?: string;
  /** Mount on this listening server instead of creating one (its own timeouts then apply). */
  server?: Server;
  /** @default "/gearman" */
  path?: string;
  policy: BridgePolicy;
  limits?: BridgeLimits;
  /** @default one JSON line on stderr */
  logger?: (entry: BridgeLogEntry) => void;
}

/** A running bridge. */
export interface Bridge {
  readonly port: number;
  /** `ws://host:port/path`. */
  readonly url: string;
  /** Open WebSocket connections. */
  readonly connections: number;
  /** Closes every connection with 1001 and stops listening. */
  close(): Promise<void>;
}

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
    `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  setTimeout(() => socket.destroy(), 1000).unref();
}

const inc = (m: Map<string, number>, k: string, d: number): void => {
  const n = (m.get(k) ?? 0) + d;
  if (n > 0) m.set(k, n);
  else m.delete(k);
};

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
  const l = { ...DEFAULT_LIMITS, ...options.limits };
  const cfg: RelayConfig = Object.freeze({ ...l, submitBurst: options.limits?.submitBurst ?? l.submitsPerSecond * 2,
    upstream: parseTcpAddress(options.upstream) });
  const max = { all: l.maxConnections, ip: l.maxConnectionsPerIp, principal: l.maxConnectionsPerPrincipal };
  const policy = options.policy;
  const verify = policy.verify ?? tokenVerifier({ tokens: policy.tokens ?? {}, ...(policy.hmac ? { hmac: policy.hmac } : {}) });
  const origins = new Set(policy.origins ?? []);
  const proxies = new Set(policy.trustedProxies ?? []);
  const log = options.logger ?? ((e: BridgeLogEntry) => process.stderr.write(`${JSON.stringify(e)}\n`));
  const path = options.path ?? "/gearman";
  const relays = new Set<Relay>();
  const perIp = new Map<string, number>();
  const perPrincipal = new Map<string, number>();
  const buckets = new Map<string, TokenBucket>();
  let total = 0;
  let closing = false;

  // No permessage-deflate: −90 % throughput and a decompression-bomb surface (spec §2.1 item 14).
  const wss = new WebSocketServer({
    noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: cfg.maxPacketSize + 12,
    handleProtocols: (protocols) => (protocols.has("gearman.v1") ? "gearman.v1" : false),
  });

  const remoteOf = (req: IncomingMessage): string => {
    const direct = req.socket.remoteAddress ?? "unknown";
    const fwd = req.headers["x-forwarded-for"];
    if (!proxies.has(direct) || typeof fwd !== "string") return direct;
    const hops = fwd.split(",").map((s) => s.trim()).filter((s) => s && !proxies.has(s));
    return hops[hops.length - 1] ?? direct;
  };

  const admit = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const remote = remoteOf(req);
    const origin = req.headers.origin;
    let principal: Principal | null = null;
    let held = false;
    const release = (): void => {
      if (!held) return;
      held = false;
      total--;
      inc(perIp, remote, -1);
      if (principal) inc(perPrincipal, principal.id, -1);
    };
    const refuse = (status: number, reason: string): void => {
      release();
      log({ type: "rejected", status, reason, remote, origin });
      reject(socket, status, reason);
    };
    if (closing) return refuse(503, "the bridge is shutting down");
    // Browsers always send Origin, so a missing one is a non-browser peer that cannot ride on a user's cookies.
    if (origin !== undefined && !origins.has(origin) && !origins.has("*")) return refuse(403, "origin not allowed");
    if (total >= max.all) return refuse(503, "too many connections");
    if ((perIp.get(remote) ?? 0) >= max.ip) return refuse(429, "too many connections from this address");
    // Held before the await, so that concurrent upgrades cannot all pass the caps.
    held = true;
    total++;
    inc(perIp, remote, 1);
    socket.once("close", release);
    try {
      principal = await verify(req);
    } catch {
      principal = null;
    }
    if (socket.destroyed) return release();
    if (!principal) return refuse(401, "missing or invalid token");
    const who: Principal = principal;
    principal = null;
    if (principalProblem(who)) return refuse(500, "verify returned an unusable principal");
    if ((perPrincipal.get(who.id) ?? 0) >= max.principal) return refuse(429, "too many connections for this principal");
    principal = who;
    inc(perPrincipal, who.id, 1);
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off("close", release);
      let bucket = buckets.get(who.id);
      if (!bucket) buckets.set(who.id, (bucket = new TokenBucket(cfg.submitsPerSecond, cfg.submitBurst)));
      const relay = new Relay(ws, who, { origin, remote }, cfg, bucket, (entry) => {
        relays.delete(relay);
        release();
        log(entry);
      });
      relays.add(relay);
    });
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => {});
    if (new URL(req.url ?? "/", "http://bridge").pathname !== path) {
      // A mounted bridge leaves other paths to the server's other upgrade listeners.
      if (!options.server) reject(socket, 404, "not found");
      return;
    }
    void admit(req, socket, head);
  };

  const headersTimeout = l.headersTimeoutMs;
  const server = options.server ?? createServer({ headersTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout) },
    (_req, res) => res.writeHead(426, { "Content-Type": "text/plain" }).end("WebSocket only\n"));
  server.on("upgrade", onUpgrade);
  if (!options.server) {
    await new Promise<void>((resolve, rejectListen) => {
      server.once("error", rejectListen);
      server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
    });
  }
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  const host = options.host ?? (typeof addr === "object" && addr ? addr.address : "127.0.0.1");

  const heartbeat = setInterval(() => {
    for (const r of relays) r.heartbeat();
    for (const [id, b] of buckets) if (!perPrincipal.has(id) && b.full) buckets.delete(id);
  }, l.heartbeatMs);
  heartbeat.unref();

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
      const gone = [...relays].map((r) => new Promise<void>((resolve) => {
        r.onEnd(resolve);
        r.close(1001, "the bridge is shutting down");
      }));
      await Promise.all(gone);
      if (!options.server) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
    },
  };
}
