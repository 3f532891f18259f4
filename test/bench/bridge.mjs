// WebSocket relays in front of gearmand, and the load that goes through them. One role per process:
//   --role=bridge --url=MODULE --upstream=H:P   the policy bridge (bridge/bridge.ts startBridge); READY <port>
//   --role=blind --upstream=H:P                 a blind ws<->tcp pipe (below, 20 lines); READY <port>
//   --role=load --target=ws://...|tcp://H:P     ECHO_REQ round trips with this SDK's Client:
//        --conns x --inflight echoes of --size bytes for --count or --seconds, then p50 with one in flight
//   --role=idle --target=ws://... --conns=N     opens N idle WebSockets, READY, holds them until stdin ends
// Daemons answer a stdin line "mem" with one JSON line (heap + RSS after GC).
import { connect } from "node:net";
import { createInterface } from "node:readline";
import { WebSocket, WebSocketServer } from "ws";
import { parseArgs, percentile, rss } from "./lib.mjs";

const a = parseArgs();
const TOKEN = "bench-token";
const DIST = process.env.GEARMAN_SDK_DIST ?? new URL("../../dist/node.js", import.meta.url).href;

function serveMem(onClose) {
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    if (line.trim() !== "mem") return;
    globalThis.gc?.();
    globalThis.gc?.();
    const m = process.memoryUsage();
    process.stdout.write(`${JSON.stringify({ heap: m.heapUsed + m.external, rss: rss().rss })}\n`);
  });
  const stop = async () => {
    await Promise.race([onClose(), new Promise((r) => setTimeout(r, 500))]);
    process.exit(0);
  };
  rl.on("close", stop);
  process.on("SIGTERM", stop);
}

/** The blind relay: every WebSocket message to gearmand as it is, every TCP chunk back as one message. */
function blindRelay(port, upstream) {
  const [host, p] = upstream.split(":");
  const wss = new WebSocketServer({ port, host: "127.0.0.1", perMessageDeflate: false, handleProtocols: () => "gearman.v1" });
  wss.on("connection", (ws) => {
    const tcp = connect({ host, port: Number(p), noDelay: true });
    const pending = [];
    tcp.once("connect", () => pending.splice(0).forEach((d) => tcp.write(d)));
    ws.on("message", (d) => (tcp.connecting ? pending.push(d) : tcp.write(d)));
    tcp.on("data", (d) => ws.send(d));
    ws.on("close", () => tcp.destroy());
    tcp.on("close", () => ws.close());
    ws.on("error", () => tcp.destroy());
    tcp.on("error", () => ws.close());
  });
  return new Promise((resolve) => wss.on("listening", () => resolve(wss)));
}

if (a.role === "bridge") {
  const { startBridge } = await import(a.url);
  const bridge = await startBridge({
    upstream: a.upstream,
    policy: { tokens: { [TOKEN]: { id: "bench", roles: ["client", "worker"], submit: ["*"], register: ["*"] } } },
    // The bench measures the relay, not the policy's throttles.
    limits: { submitsPerSecond: 1_000_000, bytesPerSecond: 2_000_000_000, packetsPerSecond: 100_000_000, maxConnections: 100_000, maxConnectionsPerIp: 100_000, maxConnectionsPerPrincipal: 100_000 },
    logger: () => {},
  });
  process.stdout.write(`READY ${bridge.port} ${bridge.url}\n`);
  serveMem(() => bridge.close());
} else if (a.role === "blind") {
  const wss = await blindRelay(0, a.upstream);
  process.stdout.write(`READY ${wss.address().port}\n`);
  serveMem(() => new Promise((r) => wss.close(r)));
} else if (a.role === "idle") {
  const n = Number(a.conns ?? 200);
  const sockets = [];
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(a.target, ["gearman.v1", `bearer.${TOKEN}`], { perMessageDeflate: false });
    sockets.push(new Promise((resolve, reject) => (ws.once("open", () => resolve(ws)), ws.once("error", reject))));
  }
  await Promise.all(sockets);
  process.stdout.write(`READY ${n}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
  process.on("SIGTERM", () => process.exit(0));
} else if (a.role === "load") {
  const { Client, websocketConnector } = await import(DIST);
  const Ws = class extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols, { perMessageDeflate: false });
    }
  };
  const target = a.target;
  const options = target.startsWith("ws")
    ? { servers: [target], connector: (s) => websocketConnector(s, { WebSocket: Ws, token: TOKEN }) }
    : { servers: [target.replace(/^tcp:\/\//, "")] };
  const conns = Number(a.conns ?? 4);
  const inflight = Number(a.inflight ?? 64);
  const count = Number(a.count ?? 40_000);
  const seconds = Number(a.seconds ?? 5);
  const payload = new Uint8Array(Number(a.size ?? 1024)).map((_, i) => 97 + (i % 26));
  const clients = Array.from({ length: conns }, () => new Client(options));
  await Promise.all(clients.map((c) => c.echo("warm")));
  let done = 0;
  let bad = 0;
  let issued = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(clients.flatMap((c) => Array.from({ length: inflight }, async () => {
    while (issued < count && performance.now() < deadline) {
      issued++;
      const r = await c.echo(payload).catch(() => undefined);
      if (!r || r.length !== payload.length) bad++;
      done++;
    }
  })));
  const el = (performance.now() - t0) / 1000;
  const lat = [];
  const c = clients[0];
  const latEnd = performance.now() + 3000;
  for (let i = 0; i < 2000 && performance.now() < latEnd; i++) {
    const s = performance.now();
    await c.echo(payload);
    lat.push((performance.now() - s) * 1000);
  }
  lat.sort((x, y) => x - y);
  process.stdout.write(`${JSON.stringify({ echoes: done, bad, seconds: el, rate: done / el, bounded: done < count, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), latN: lat.length })}\n`);
  await Promise.all(clients.map((x) => x.close()));
  process.exit(0);
}
