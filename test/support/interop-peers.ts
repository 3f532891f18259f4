// Node: runs foreign Gearman peers (C, PHP, Perl, the gearman CLI) as child processes with deadlines, for interop tests.
import { spawn, type ChildProcess } from "node:child_process";
import { AdminClient, GearmanReturn, type HandlerResult, type Job } from "../../src/node.ts";

/** How a bounded peer run ended. */
export interface PeerRun {
  /** Exit status, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the deadline killed it. */
  timedOut: boolean;
}

/** Options of {@link runPeer}. */
export interface RunOptions {
  /** Deadline in ms; the peer gets SIGKILL after it. @default 20000 */
  timeout?: number;
  /** Written to stdin, which is then closed (stdin is closed at once without it). */
  input?: string;
}

/** A long-running peer started by {@link startPeer}. */
export interface Peer {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit status once it exits. */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after 2 s; resolves once it exited. */
  stop(): Promise<void>;
}

const live = new Set<Peer>();

/** Runs a peer to completion, killing it at the deadline so nothing can hang. */
export function runPeer(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<PeerRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("latin1")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("latin1")));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeout ?? 20_000);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${err.message}`));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}

/** Starts a long-running peer (a worker); {@link stopPeers} kills every one still running. */
export function startPeer(cmd: string, args: readonly string[]): Peer {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString("latin1");
    if (out.length > 1_000_000) out = out.slice(-500_000);
  });
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString("latin1");
    if (err.length > 1_000_000) err = err.slice(-500_000);
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once("error", (e) => {
      err += `spawn error: ${e.message}\n`;
      exitCode = null;
      resolve(null);
    });
    child.once("exit", (code) => {
      exitCode = code;
      resolve(code);
    });
  });
  const peer: Peer = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop() {
      live.delete(peer);
      if (exitCode !== undefined) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
  live.add(peer);
  void exited.then(() => live.delete(peer));
  return peer;
}

/** Stops every peer started by {@link startPeer} that is still running. */
export async function stopPeers(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

/** Polls gearmand's admin `status` until `fn` has at least `count` workers (peers register lazily). */
export async function waitForWorkers(server: string, fn: string, count = 1, timeout = 10_000): Promise<void> {
  const admin = new AdminClient({ server });
  const deadline = Date.now() + timeout;
  try {
    for (;;) {
      const row = (await admin.status()).find((r) => r.name === fn);
      if (row && row.workers >= count) return;
      if (Date.now() > deadline) throw new Error(`no ${count} worker(s) for ${fn} on ${server} within ${timeout} ms (status: ${JSON.stringify(row)})`);
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    await admin.close();
  }
}

/** Polls admin `status` until `fn` has `total` jobs queued or running. */
export async function waitForQueued(server: string, fn: string, total: number, timeout = 10_000): Promise<void> {
  const admin = new AdminClient({ server });
  const deadline = Date.now() + timeout;
  try {
    for (;;) {
      const row = (await admin.status()).find((r) => r.name === fn);
      if ((row?.total ?? 0) >= total) return;
      if (Date.now() > deadline) throw new Error(`${fn} did not reach ${total} queued job(s) within ${timeout} ms (status: ${JSON.stringify(row)})`);
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    await admin.close();
  }
}

/**
 * Our worker's side of the return-code cases, driven by the workload like interop_worker's `ret`:
 * SUCCESS → "ok", EMPTY → GearmanReturn.SUCCESS, DATA → sendData("d1") then "done",
 * WARN → warning "careful", status 1/2, then "warned", FAIL → GearmanReturn.FAIL,
 * THROW → throws "ts boom", ERROR → GearmanReturn.ERROR, ERROR_ONCE → ERROR on the first attempt
 * of a handle then "attempt=N", UNIQUE → the job's unique, "" → "(empty)", anything else → the
 * workload upper-cased. `attempts` counts the runs per job handle.
 */
export function interopHandler(attempts: Map<string, number> = new Map()): (job: Job) => Promise<HandlerResult> {
  return async (job) => {
    const n = (attempts.get(job.handle) ?? 0) + 1;
    attempts.set(job.handle, n);
    switch (job.text()) {
      case "SUCCESS": return "ok";
      case "EMPTY": return GearmanReturn.SUCCESS;
      case "DATA":
        await job.sendData("d1");
        return "done";
      case "WARN":
        job.sendWarning("careful");
        job.sendStatus(1, 2);
        return "warned";
      case "FAIL": return GearmanReturn.FAIL;
      case "THROW": throw new Error("ts boom");
      case "ERROR": return GearmanReturn.ERROR;
      case "ERROR_ONCE": return n === 1 ? GearmanReturn.ERROR : `attempt=${n}`;
      case "UNIQUE": return job.unique;
      case "": return "(empty)";
      default: return job.text().toUpperCase();
    }
  };
}
