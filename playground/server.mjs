// Node only: the playground's page server. Serves the page, mounts the bridge on the same origin
// (/gearman), and offers a read-only JSON status endpoint built on the admin protocol.
/**
 * `startPlayground()` is what `npm start` (playground/serve.mjs) and the browser tests run.
 *
 * The upstream job server is, in order: the `upstream` option ("host:port" or "tcp://host:port",
 * which serve.mjs takes from GEARMAN_SERVERS), else a gearmand found on PATH or in /usr/sbin,
 * started on a free loopback port and stopped by close(), else the embedded job server.
 *
 * Node cannot run TypeScript, so the server-side pieces come from `dist/` (`npm run build`) when
 * they are there, and are otherwise bundled from source with esbuild into playground/dist/server/.
 * The page script (playground/main.ts) is always bundled from source into playground/dist/main.js.
 * @module
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { connect, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

/** Where gearmand usually lives when it is not on PATH (sbin is often left out of a user's PATH). */
const GEARMAND_DIRS = ["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"];
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

const builds = new Map();

/** Bundles one TypeScript entry with esbuild (once per process and output). */
function bundle(entry, outfile, platform) {
  let done = builds.get(outfile);
  if (!done) {
    done = (async () => {
      let esbuild;
      try {
        esbuild = await import("esbuild");
      } catch (err) {
        throw new Error(`cannot bundle ${entry}: esbuild is missing (run \`npm ci\`, or \`npm run build\` first)`, { cause: err });
      }
      await esbuild.build({
        entryPoints: [join(root, entry)],
        outfile: join(here, "dist", outfile),
        bundle: true,
        format: "esm",
        platform,
        target: platform === "node" ? "node20" : "es2022",
        sourcemap: true,
        logLevel: "silent",
        // Node bundles keep `ws` and friends as imports from node_modules.
        ...(platform === "node" ? { packages: "external" } : {}),
      });
      return join(here, "dist", outfile);
    })();
    builds.set(outfile, done);
    done.catch(() => builds.delete(outfile));
  }
  return done;
}

/** A module of this package: `dist/<name>.js` when built, else bundled from `source`. */
async function load(name, source) {
  const built = join(root, "dist", `${name}.js`);
  const file = existsSync(built) ? built : await bundle(source, `server/${name}.mjs`, "node");
  return await import(pathToFileURL(file).href);
}

/** Bundles playground/main.ts for the page; resolves once playground/dist/main.js is written. */
export function buildPage() {
  return bundle("playground/main.ts", "main.js", "browser");
}

/** The gearmand binary: on PATH first, then the usual sbin/bin directories. */
export function findGearmand() {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...GEARMAND_DIRS];
  for (const dir of dirs) {
    const bin = join(dir, "gearmand");
    if (existsSync(bin)) return bin;
  }
  return undefined;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = connect({ port, host: "127.0.0.1" });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Starts gearmand on a free loopback port; `stop()` kills it and removes its temp directory. */
async function startGearmand(bin) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "playground-gearmand-"));
  const child = spawn(bin, [
    "--listen=127.0.0.1",
    `--port=${port}`,
    "--log-file=stderr",
    "--verbose=ERROR",
    `--pid-file=${join(dir, "gearmand.pid")}`,
  ], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (d) => {
    log = (log + d.toString()).slice(-8000);
  });
  let exited = false;
  const exit = new Promise((resolve) => child.once("exit", () => resolve(exited = true)));
  // If this process dies without close(), do not leave gearmand behind.
  const onExit = () => child.kill("SIGKILL");
  process.once("exit", onExit);
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (exited || Date.now() > deadline) {
      child.kill("SIGKILL");
      process.off("exit", onExit);
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`gearmand (${bin}) did not start on port ${port}: ${log.trim().slice(-2000) || "no output"}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    address: `127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      process.off("exit", onExit);
      if (!exited) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exit;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Reads `host:port` or `tcp://host:port` (the first of a comma-separated list). */
function externalAddress(spec) {
  const first = spec.split(",")[0].trim();
  const bare = first.startsWith("tcp://") ? first.slice(6) : first;
  if (/^wss?:\/\//.test(bare)) throw new Error(`the playground needs gearmand's TCP address, not ${first}`);
  const m = /^(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(bare);
  if (!m) throw new Error(`cannot read the upstream ${JSON.stringify(first)}: use host:port`);
  return `${m[1]}:${m[2] ?? 4730}`;
}

/** Opens the upstream job server: external, gearmand started here, or the embedded server. */
async function openUpstream(spec) {
  let kind = spec === undefined || spec === "" || spec === "auto" ? (findGearmand() ? "gearmand" : "embedded") : spec;
  if (kind === "gearmand") {
    const bin = findGearmand();
    if (!bin) throw new Error("gearmand not found on PATH or in /usr/sbin: install gearman-job-server, or use the embedded server");
    const g = await startGearmand(bin);
    return { kind, address: g.address, detail: `gearmand started by the playground (pid ${g.pid})`, close: () => g.stop() };
  }
  if (kind === "embedded") {
    const { startServer } = await load("server", "src/server/node.ts");
    const server = await startServer({ port: 0, host: "127.0.0.1" });
    const address = server.address ?? `127.0.0.1:${server.port}`;
    const stop = server.close ?? server.stop;
    return { kind, address, detail: "the embedded job server (gearman-sdk, in this Node process)", close: () => stop.call(server) };
  }
  kind = "external";
  const address = externalAddress(spec);
  return { kind, address, detail: "a running job server (GEARMAN_SERVERS or --upstream)", close: async () => {} };
}

/** One compact line per bridge connection, without payloads. */
function defaultBridgeLog(entry) {
  if (entry.type === "rejected") console.error(`bridge: refused ${entry.remote} (${entry.status} ${entry.reason})`);
  else if (entry.type === "connection") {
    const why = entry.reason ? ` ${entry.reason}` : "";
    const denied = entry.denials.length ? `, denied: ${entry.denials.join("; ")}` : "";
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
  const admin = new AdminClient({ server: upstream.address });
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
