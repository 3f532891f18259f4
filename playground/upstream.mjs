// Node only: the job server behind the playground's bridge. In order: the `upstream` option
// ("host:port" or "tcp://host:port", which serve.mjs takes from GEARMAN_SERVERS), else a gearmand
// found on PATH or in /usr/sbin, started on a free loopback port and stopped by close(), else the
// embedded job server.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { load } from "./bundle.mjs";

/** Where gearmand usually lives when it is not on PATH (sbin is often left out of a user's PATH). */
const GEARMAND_DIRS = ["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"];

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

/**
 * Opens the upstream job server: external, gearmand started here, or the embedded server.
 * Resolves with `{ kind, address, detail, close() }`.
 */
export async function openUpstream(spec) {
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
