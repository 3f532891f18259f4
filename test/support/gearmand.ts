// Node (and Deno through node: builtins): starts a private gearmand for tests and stops it by PID.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, connect } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A gearmand started by {@link startGearmand}. */
export interface Gearmand {
  host: string;
  port: number;
  pid: number;
  /** `host:port`. */
  address: string;
  /** Kills it (SIGTERM, then SIGKILL) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** What gearmand wrote to its log (stderr). */
  log(): string;
}

/** Options for {@link startGearmand}: extra gearmand flags such as `--job-retries=3`. */
export interface GearmandOptions {
  args?: string[];
  port?: number;
  /** Always the real gearmand, even when GEARMAN_SDK_SERVER=embedded (tests of gearmand itself). */
  real?: boolean;
}

/**
 * Which job server the SDK suites run against: `gearmand` (default) or `embedded`
 * (`GEARMAN_SDK_SERVER=embedded`, the TypeScript server of src/server). The same tests pass on both.
 */
export function serverKind(): "gearmand" | "embedded" {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env;
  return env?.GEARMAN_SDK_SERVER === "embedded" ? "embedded" : "gearmand";
}

/** gearmand flags that mean something to the embedded server; the rest (threads, backlog, logs) do not apply. */
function embeddedOptions(args: readonly string[]): { jobRetries?: number; name?: string } {
  const out: { jobRetries?: number; name?: string } = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--job-retries=(\d+)$/.exec(a);
    const prefix = /^--job-handle-prefix=(.+)$/.exec(a);
    if (m) out.jobRetries = Number(m[1]);
    else if (prefix) out.name = prefix[1];
    else if (a === "-j" || a === "--job-retries") out.jobRetries = Number(args[++i]);
  }
  return out;
}

async function startEmbedded(options: GearmandOptions): Promise<Gearmand> {
  const { startServer } = await import("../../src/server/node.ts");
  const port = options.port ?? (await freePort());
  const server = await startServer({ port, host: "127.0.0.1", ...embeddedOptions(options.args ?? []) });
  let stopped = false;
  return {
    host: "127.0.0.1",
    port: server.port,
    pid: (globalThis as { process?: { pid: number } }).process?.pid ?? 0,
    address: `127.0.0.1:${server.port}`,
    log: () => "",
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
    },
  };
}

/** Finds a free loopback port by listening on port 0 and closing. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: "127.0.0.1" });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

const GEARMAND_PATHS = ["/usr/sbin/gearmand", "/usr/bin/gearmand", "/usr/local/sbin/gearmand"];

async function gearmandBinary(): Promise<string> {
  const { existsSync } = await import("node:fs");
  const found = GEARMAND_PATHS.find((p) => existsSync(p));
  if (!found) {
    throw new Error("gearmand not found: install it with `sudo apt-get install -y gearman-job-server` (Debian) and run the tests again");
  }
  return found;
}

/** Starts gearmand on a free loopback port and waits until it accepts connections. */
export async function startGearmand(options: GearmandOptions = {}): Promise<Gearmand> {
  if (serverKind() === "embedded" && !options.real) return await startEmbedded(options);
  const bin = await gearmandBinary();
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "gearmand-"));
  const args = [
    "--listen=127.0.0.1",
    `--port=${port}`,
    "--log-file=stderr",
    "--verbose=INFO",
    `--pid-file=${join(dir, "gearmand.pid")}`,
    ...(options.args ?? []),
  ];
  const child: ChildProcess = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (d: Buffer) => {
    log += d.toString();
    if (log.length > 1_000_000) log = log.slice(-500_000);
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once("exit", () => {
    exited = true;
    resolve();
  }));
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (exited) throw new Error(`gearmand exited at start: ${log.slice(-2000)}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`gearmand did not accept connections on port ${port} within 10 s: ${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    host: "127.0.0.1",
    port,
    pid: child.pid!,
    address: `127.0.0.1:${port}`,
    log: () => log,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (exited) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exit;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
