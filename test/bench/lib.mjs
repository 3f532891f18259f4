// Shared helpers of the benchmark drivers (plain .mjs: Node 20 runs it without a TypeScript loader).
// gearmand launcher (the logic of test/support/gearmand.ts), admin status, child processes with
// hard time bounds, the C pair builder, percentiles and /proc readings.
import { spawn, execFileSync } from "node:child_process";
import { connect, createServer } from "node:net";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(BENCH_DIR, "..", "..");
const CLK_TCK = 100;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Every child this process starts, so that none outlives it (a crash, Ctrl-C): killed by pid on exit.
const children = new Set();
function track(child) {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}
process.once("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});
for (const sig of ["SIGINT", "SIGTERM"]) process.once(sig, () => process.exit(130));

/** Parses `--key=value` / `--flag` arguments. */
export function parseArgs(argv = process.argv.slice(2)) {
  const out = {};
  for (const a of argv) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (m) out[m[1]] = m[2] ?? "true";
  }
  return out;
}

export async function freePort() {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = srv.address().port;
      srv.close(() => resolve(port));
    });
  });
}

export function canConnect(port, host = "127.0.0.1") {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** Resident set size and its peak (VmHWM), in bytes. */
export function rss(pid = process.pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) * 1024;
    return { rss: kb("VmRSS"), peak: kb("VmHWM") };
  } catch {
    return { rss: NaN, peak: NaN };
  }
}

export const GEARMAND = ["/usr/sbin/gearmand", "/usr/bin/gearmand", "/usr/local/sbin/gearmand"].find((p) => existsSync(p));

/** Starts a private gearmand on a free loopback port. `args` are extra options (e.g. --threads=0). */
export async function startGearmand(args = []) {
  if (!GEARMAND) throw new Error("gearmand not found (apt-get install gearman-job-server)");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "bench-gearmand-"));
  const child = track(spawn(GEARMAND, [
    "--listen=127.0.0.1", `--port=${port}`, "--log-file=stderr", "--verbose=ERROR",
    `--pid-file=${join(dir, "gearmand.pid")}`, ...args,
  ], { stdio: ["ignore", "ignore", "pipe"] }));
  let log = "";
  child.stderr.on("data", (d) => {
    log += d;
    if (log.length > 100_000) log = log.slice(-50_000);
  });
  let exited = false;
  const exit = new Promise((r) => child.once("exit", () => ((exited = true), r())));
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (exited) throw new Error(`gearmand exited at start: ${log}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error("gearmand did not listen within 10 s");
    }
    await sleep(20);
  }
  return {
    port, pid: child.pid, address: `127.0.0.1:${port}`, args,
    cpu: () => cpuSeconds(child.pid),
    log: () => log,
    async stop() {
      if (!exited) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exit;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Sends one admin text command; resolves with the response lines (list responses end at "."). */
export function adminCommand(port, command, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: "127.0.0.1" });
    let text = "";
    const t = setTimeout(() => (s.destroy(), reject(new Error(`admin ${command}: no answer`))), timeoutMs);
    s.on("data", (d) => {
      text += d;
      if (text.endsWith(".\n") || (!/^(status|workers|show)/.test(command) && text.endsWith("\n"))) {
        clearTimeout(t);
        s.destroy();
        resolve(text.split("\n").filter((l) => l !== "" && l !== "."));
      }
    });
    s.once("error", (e) => (clearTimeout(t), reject(e)));
    s.write(`${command}\n`);
  });
}

/** `status`: function -> { queued, running, workers }. */
export async function adminStatus(port) {
  const out = {};
  for (const line of await adminCommand(port, "status")) {
    const [fn, total, running, workers] = line.split("\t");
    out[fn] = { queued: Number(total), running: Number(running), workers: Number(workers) };
  }
  return out;
}

/** Waits until `n` worker connections registered `fn`. */
export async function waitForWorkers(port, fn, n, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = (await adminStatus(port))[fn];
    if (st && st.workers >= n) return;
    if (Date.now() > deadline) throw new Error(`${n} workers of ${fn} did not register within ${timeoutMs} ms (have ${st?.workers ?? 0})`);
    await sleep(20);
  }
}

/**
 * Starts a long-running child (a worker). Resolves once it printed a line READY on stdout.
 * `stop()` kills exactly that pid.
 */
export async function startDaemon(cmd, args, { env, readyMs = 15_000, nodeArgs } = {}) {
  const isNode = cmd.endsWith(".mjs");
  const child = track(isNode
    ? spawn(process.execPath, [...(nodeArgs ?? []), cmd, ...args], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } })
    : spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } }));
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => {
    err += d;
    if (err.length > 20_000) err = err.slice(-10_000);
  });
  let exited = false;
  let readyInfo = "";
  const exit = new Promise((r) => child.once("exit", (code, sig) => ((exited = true), r({ code, sig }))));
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${cmd} not READY within ${readyMs} ms: ${err.slice(-500)}`)), readyMs);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /^READY ?(.*)$/m.exec(out);
      if (m && out.indexOf("\n", m.index) >= 0) {
        readyInfo = m[1];
        clearTimeout(t);
        resolve();
      }
    });
    child.once("exit", () => {
      clearTimeout(t);
      reject(new Error(`${cmd} exited before READY: ${err.slice(-1000)}`));
    });
  });
  // Line requests to a daemon that answers each stdin line with one JSON line on stdout.
  const jsonWaiters = [];
  let seen = out.length;
  child.stdout.on("data", () => {
    for (;;) {
      const nl = out.indexOf("\n", seen);
      if (nl < 0) return;
      const line = out.slice(seen, nl);
      seen = nl + 1;
      if (line.startsWith("{") && jsonWaiters.length) jsonWaiters.shift()(JSON.parse(line));
    }
  });
  return {
    pid: child.pid,
    child,
    readyInfo,
    request(line, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no answer to ${line}`)), timeoutMs);
        jsonWaiters.push((v) => (clearTimeout(t), resolve(v)));
        child.stdin.write(`${line}\n`);
      });
    },
    cpu: () => cpuSeconds(child.pid),
    rss: () => rss(child.pid),
    stdout: () => out,
    stderr: () => err,
    async stop() {
      if (exited) return;
      child.stdin.end();
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 2000);
      await exit;
      clearTimeout(t);
    },
  };
}

/**
 * Runs a child to completion with a hard time bound and parses the last JSON line of its stdout.
 * On timeout the child is killed and `{ timedOut: true }` is returned.
 */
export function runJson(cmd, args, { timeoutMs = 60_000, env, nodeArgs } = {}) {
  return new Promise((resolve) => {
    const isNode = cmd.endsWith(".mjs");
    const t0 = Date.now();
    const child = track(isNode
      ? spawn(process.execPath, [...(nodeArgs ?? []), cmd, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } })
      : spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } }));
    let out = "";
    let err = "";
    let timedOut = false;
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => {
      err += d;
      if (err.length > 20_000) err = err.slice(-10_000);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      const lines = out.trim().split("\n").filter((l) => l.startsWith("{"));
      let json;
      try {
        json = lines.length ? JSON.parse(lines[lines.length - 1]) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ ...(json ?? {}), timedOut, exitCode: code, signal, wall: (Date.now() - t0) / 1000, ...(json ? {} : { error: err.slice(-800) || `no JSON output (exit ${code ?? signal})` }) });
    });
  });
}

/** Scratch output of the bench (ignored by git): compiled C pair, bundles of entries without a dist build. */
export const BUILD_DIR = join(ROOT, "test", "results", ".bench-build");

/** Compiles the C libgearman pair into test/results/.bench-build when the sources are newer. Returns paths, or an error. */
export function buildCPair() {
  const src = join(BENCH_DIR, "c");
  const bin = BUILD_DIR;
  mkdirSync(bin, { recursive: true });
  const out = {};
  for (const [name, extra] of [["bench_client", []], ["bench_worker", ["-pthread"]]]) {
    const c = join(src, `${name}.c`);
    const exe = join(bin, name);
    if (!existsSync(exe) || statSync(exe).mtimeMs < statSync(c).mtimeMs) {
      try {
        execFileSync("gcc", ["-O2", ...extra, "-o", exe, c, "-lgearman"], { stdio: "pipe" });
      } catch (e) {
        return { error: `gcc ${name}: ${String(e.stderr ?? e.message).slice(0, 400)}` };
      }
    }
    out[name] = exe;
  }
  return out;
}

export function percentile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

export function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v.length % 2 ? v[(v.length - 1) >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

/**
 * A deterministic payload of `n` bytes: printable ASCII by default (as the C pair sends), or every
 * byte value including NUL with `binary` (the 16 MiB case, so corruption shows).
 */
export function makePayload(n, binary = false) {
  const b = Buffer.allocUnsafe(n);
  if (binary) for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >>> 8) * 13 + (i >>> 16)) & 0xff;
  else for (let i = 0; i < n; i++) b[i] = 97 + ((i * 7 + Math.floor(i / 251)) % 26);
  return b;
}

export function mustGc() {
  if (typeof globalThis.gc !== "function") throw new Error("run with --expose-gc");
  globalThis.gc();
  globalThis.gc();
}

/**
 * Finds an optional part of the SDK: the dist build when tsup has an entry for it, otherwise a
 * bundle made here from the TypeScript source with esbuild (so the bench still measures it; the
 * table says which). Returns { url, origin } or { error }.
 */
export async function locateOptional(distNames, sourcePath, bundleName) {
  for (const d of distNames) {
    const p = join(ROOT, "dist", d);
    if (existsSync(p)) return { url: pathToFileURL(p).href, origin: `dist/${d}` };
  }
  const src = join(ROOT, sourcePath);
  if (!existsSync(src)) return { error: `${sourcePath} does not exist` };
  if (process.env.BENCH_NO_BUNDLE === "1") return { error: `no dist entry for ${sourcePath} (BENCH_NO_BUNDLE=1)` };
  try {
    const { build } = await import("esbuild");
    mkdirSync(BUILD_DIR, { recursive: true });
    const out = join(BUILD_DIR, `${bundleName}.mjs`);
    await build({
      entryPoints: [src], bundle: true, platform: "node", format: "esm", target: "es2022", outfile: out,
      packages: "external", logLevel: "silent", sourcemap: true,
    });
    return { url: pathToFileURL(out).href, origin: `bundled from ${sourcePath} (no dist entry)` };
  } catch (e) {
    return { error: `bundling ${sourcePath} failed: ${String(e.message ?? e).split("\n").slice(0, 3).join(" ")}` };
  }
}
