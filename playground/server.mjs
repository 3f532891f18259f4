// Node only: the playground's page server. Serves the page, mounts the bridge on the same origin
// (/gearman), and offers a read-only JSON status endpoint built on the admin protocol.
/**
 * `startPlayground()` is what `npm start` (playground/serve.mjs) and the browser tests run.
 *
 * The job server behind the bridge is chosen by upstream.mjs; how the TypeScript pieces (the bridge,
 * the SDK, the page script) get loaded or bundled is bundle.mjs.
 * @module
 */
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildPage, load } from "./bundle.mjs";
import { openUpstream } from "./upstream.mjs";

export { buildPage } from "./bundle.mjs";
export { findGearmand } from "./upstream.mjs";

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The bridge's packet limit (its default, set here so that the page can be told): a larger message closes the tab's
 * WebSocket with 1009, failing every task on it, so the page's Client is given the same limit and refuses before sending.
 */
const MAX_PACKET_SIZE = 1_048_576;
/** The tab id the page sends in `?tab=`; becomes the bridge principal `tab-<id>`. */
const TAB_ID = /^[A-Za-z0-9]{1,24}$/;
const STATIC = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/index.html": ["index.html", "text/html; charset=utf-8"],
  "/style.css": ["style.css", "text/css; charset=utf-8"],
  "/dist/main.js": ["dist/main.js", "text/javascript; charset=utf-8"],
  "/dist/main.js.map": ["dist/main.js.map", "application/json; charset=utf-8"],
};
// new Function (the function editor) needs 'unsafe-eval'; everything else is same-origin only.
const CSP = "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** One compact line per bridge connection, without payloads. */
function defaultBridgeLog(entry) {
  if (entry.type === "rejected") console.error(`bridge: refused ${entry.remote} (${entry.status} ${entry.reason})`);
  else if (entry.type === "connection") {
    const why = entry.reason ? ` ${entry.reason}` : "";
    const reasons = Object.entries(entry.denials).map(([why, n]) => (n > 1 ? `${why} (×${n})` : why));
    const denied = reasons.length ? `, denied: ${reasons.join("; ")}` : "";
    console.error(`bridge: ${entry.principal} closed (${entry.code}${why}) after ${entry.durationMs} ms${denied}`);
  }
}

/**
 * Starts the playground: page server, bridge at /gearman, status endpoint.
 * @param {import("./server.d.mts").PlaygroundOptions} [options]
 * @returns {Promise<import("./server.d.mts").Playground>}
 */
export async function startPlayground(options = {}) {
  const host = options.host ?? "127.0.0.1";
  const [{ startBridge }, { AdminClient, VERSION }] = await Promise.all([
    load("bridge", "bridge/bridge.ts"),
    load("node", "src/node.ts"),
    buildPage(),
  ]);
  const upstream = await openUpstream(options.upstream);
  // The page polls the status endpoint: a stuck upstream must answer it with an error, not hang it.
  const admin = new AdminClient({ server: upstream.address, timeout: 5000 });
  let version = "";
  try {
    version = await admin.version();
  } catch (err) {
    await upstream.close();
    throw new Error(`cannot reach the job server at ${upstream.address}: ${err.message}`, { cause: err });
  }

  let allowedHosts = new Set();
  const server = createServer({ headersTimeout: 10_000 }, (req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(`internal error: ${err.message}\n`);
    });
  });

  async function handle(req, res) {
    // A loopback page server answers only to its own names (DNS-rebinding guard).
    if (!allowedHosts.has(req.headers.host ?? "")) {
      res.writeHead(421, { "Content-Type": "text/plain; charset=utf-8" }).end("unknown host\n");
      return;
    }
    const path = new URL(req.url ?? "/", "http://playground").pathname;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/api/config") return json(res, 200, config());
    if (path === "/api/status") return status(res);
    const file = STATIC[path];
    if (!file) {
      res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("not found\n");
      return;
    }
    const body = await readFile(join(here, file[0]));
    res.writeHead(200, {
      "Content-Type": file[1],
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
      ...(file[1].startsWith("text/html") ? { "Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer" } : {}),
    });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  function json(res, code, value) {
    res.writeHead(code, {
      "Content-Type": "application/json; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    });
    res.end(JSON.stringify(value));
  }

  function config() {
    return {
      sdkVersion: VERSION,
      bridgePath: "/gearman",
      maxPacketSize: MAX_PACKET_SIZE,
      upstream: { kind: upstream.kind, address: upstream.address, version, detail: upstream.detail },
    };
  }

  // The page polls this; the admin protocol stays on this side (the bridge never relays admin text).
  async function status(res) {
    try {
      const [functions, connections] = await Promise.all([admin.status(), admin.workers()]);
      json(res, 200, {
        ok: true,
        time: Date.now(),
        functions: functions.map((f) => ({
          name: f.name,
          queued: Math.max(0, f.total - f.running),
          running: f.running,
          workers: f.workers,
        })),
        workers: connections.filter((c) => c.functions.length > 0).map((c) => ({ clientId: c.clientId, ip: c.ip, functions: c.functions })),
        connections: connections.length,
      });
    } catch (err) {
      json(res, 503, { ok: false, error: `the job server at ${upstream.address} did not answer: ${err.message}` });
    }
  }

  try {
    await new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    await admin.close();
    await upstream.close();
    throw err;
  }
  const { port } = server.address();
  const names = new Set([host, "127.0.0.1", "localhost", "[::1]"].map((h) => (h.includes(":") && !h.startsWith("[") ? `[${h}]` : h)));
  allowedHosts = new Set([...names].map((h) => `${h}:${port}`));
  const origins = [...allowedHosts].map((h) => `http://${h}`);
  const bridge = await startBridge({
    upstream: upstream.address,
    server,
    path: "/gearman",
    limits: { maxPacketSize: MAX_PACKET_SIZE },
    policy: {
      origins,
      // No accounts here: each tab is its own principal, allowed to submit and register anything.
      verify: (req) => {
        const tab = new URL(req.url ?? "/", "http://playground").searchParams.get("tab") ?? "";
        const id = TAB_ID.test(tab) ? `tab-${tab}` : "playground";
        return Promise.resolve({ id, roles: ["client", "worker"], submit: ["*"], register: ["*"] });
      },
    },
    logger: options.quiet ? () => {} : (options.bridgeLog ?? defaultBridgeLog),
  });

  const hostName = host.includes(":") ? `[${host}]` : host;
  let closing;
  return {
    url: `http://${hostName}:${port}/`,
    port,
    upstream: { kind: upstream.kind, address: upstream.address, version, detail: upstream.detail },
    close() {
      closing ??= (async () => {
        await bridge.close();
        await new Promise((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await admin.close().catch(() => {});
        await upstream.close();
      })();
      return closing;
    },
  };
}
