// Node: runs the bridge (bridge/bridge.ts, bundled with esbuild) in its own process, so that its memory,
// open files and event-loop lag can be measured apart from the test process (fuzz and soak suites).
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BridgeLimits, BridgeLogEntry, BridgePolicy } from "../../bridge/bridge.ts";

/** What the bridge process reports about itself (memory after a full GC). */
export interface BridgeStats {
  /** Resident set size, bytes. */
  rss: number;
  /** V8 heap used plus external (Buffer) memory after a full GC, bytes: what the bridge really holds. */
  retained: number;
  /** V8 heap reserved (used or not), bytes. */
  heapTotal: number;
  /** Open file descriptors (/proc/self/fd). */
  fds: number;
  /** Open WebSocket connections. */
  connections: number;
  /** Event-loop delay since the last `stats({ resetLag: true })`, ms. */
  lagP99: number;
  lagMax: number;
}

/** A bridge in a child process. */
export interface BridgeProcess {
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  /** Connection and rejection log entries, in arrival order (only with `log: true`). */
  readonly logs: BridgeLogEntry[];
  stats(options?: { resetLag?: boolean }): Promise<BridgeStats>;
  /** Closes the bridge (1001 to every peer) and starts it again on the same port. */
  restart(): Promise<void>;
  /** Closes the bridge and ends the process. */
  close(): Promise<void>;
}

/** Options of {@link startBridgeProcess}. */
export interface BridgeProcessOptions {
  upstream: string;
  policy: BridgePolicy;
  limits?: BridgeLimits;
  port?: number;
  /** Forward the bridge's log entries to `logs`. @default false */
  log?: boolean;
  /** Extra Node flags for the bridge process, e.g. `--min-semi-space-size=16`. */
  nodeFlags?: string[];
}

const CHILD = `
import { readdirSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { startBridge } from ${JSON.stringify(fileURLToPath(new URL("../../bridge/bridge.ts", import.meta.url)))};

const config = JSON.parse(process.argv[2]);
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
const logger = config.log ? (entry) => process.send({ type: "log", entry }) : () => {};
const start = (port) => startBridge({ upstream: config.upstream, policy: config.policy, limits: config.limits, port, logger });
let bridge = await start(config.port ?? 0);
process.on("message", async (m) => {
  if (m.type === "stats") {
    globalThis.gc();
    globalThis.gc();
    const mem = process.memoryUsage();
    const out = { rss: mem.rss, retained: mem.heapUsed + mem.external, heapTotal: mem.heapTotal, fds: readdirSync("/proc/self/fd").length,
      connections: bridge.connections, lagP99: lag.percentile(99) / 1e6, lagMax: lag.max / 1e6 };
    if (m.resetLag) lag.reset();
    process.send({ type: "stats", id: m.id, stats: out });
  } else if (m.type === "restart") {
    await bridge.close();
    bridge = await start(bridge.port);
    process.send({ type: "restarted", id: m.id });
  } else if (m.type === "close") {
    await bridge.close();
    process.send({ type: "closed", id: m.id }, () => process.exit(0));
  }
});
process.on("disconnect", () => process.exit(0));
process.send({ type: "ready", url: bridge.url, port: bridge.port });
`;

/** Bundles the child into a temporary directory (about 0.2 s); the caller removes it once the child runs. */
async function bundle(): Promise<{ dir: string; file: string }> {
  const dir = mkdtempSync(join(tmpdir(), "bridge-process-"));
  const entry = join(dir, "child.ts");
  writeFileSync(entry, CHILD);
  const { build } = await import("esbuild");
  const outfile = join(dir, "child.mjs");
  // ws is bundled in (the child runs outside node_modules); its optional native helpers stay out.
  await build({
    entryPoints: [entry], bundle: true, platform: "node", format: "esm", target: "node20", outfile,
    external: ["bufferutil", "utf-8-validate"], logLevel: "silent",
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return { dir, file: outfile };
}

/** Starts the bridge in a child process and waits until it listens. */
export async function startBridgeProcess(options: BridgeProcessOptions): Promise<BridgeProcess> {
  const { dir, file } = await bundle();
  const child: ChildProcess = fork(file, [JSON.stringify(options)], {
    execArgv: ["--expose-gc", ...(options.nodeFlags ?? [])],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const logs: BridgeLogEntry[] = [];
  const waiting = new Map<number, (m: Record<string, unknown>) => void>();
  let nextId = 1;
  let exited = false;
  const exit = new Promise<void>((r) => child.once("exit", () => {
    exited = true;
    r();
  }));
  const ready = new Promise<{ url: string; port: number }>((resolveReady, rejectReady) => {
    child.once("exit", (code) => rejectReady(new Error(`bridge process exited with ${code} before it was ready`)));
    child.on("message", (m: Record<string, unknown>) => {
      if (m.type === "ready") resolveReady(m as unknown as { url: string; port: number });
      else if (m.type === "log") logs.push(m.entry as BridgeLogEntry);
      else waiting.get(m.id as number)?.(m);
    });
  });
  const ask = (type: string, extra: Record<string, unknown> = {}, ms = 15_000): Promise<Record<string, unknown>> =>
    new Promise((resolveAsk, rejectAsk) => {
      if (exited) return rejectAsk(new Error("the bridge process is gone"));
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        rejectAsk(new Error(`bridge process did not answer ${type} within ${ms} ms`));
      }, ms);
      waiting.set(id, (m) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolveAsk(m);
      });
      child.send({ type, id, ...extra });
    });
  // Loaded once at start (a restart stays in the same process): the bundle is not needed any more.
  const { url, port } = await ready.finally(() => rmSync(dir, { recursive: true, force: true }));
  return {
    pid: child.pid!,
    port,
    url,
    logs,
    async stats(o = {}) {
      return (await ask("stats", { resetLag: o.resetLag ?? false })).stats as BridgeStats;
    },
    async restart() {
      await ask("restart");
    },
    async close() {
      if (exited) return;
      await ask("close").catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Open file descriptors of a process (this one by default). */
export async function fdCount(pid: number = process.pid): Promise<number> {
  const { readdirSync } = await import("node:fs");
  return readdirSync(`/proc/${pid}/fd`).length;
}
