// Node: compiles the libgearman peers into test/interop/bin/ when a source is newer than its binary: the interop pair
// (test/interop/*.c) and the benchmark's C pair (test/bench/c/*.c), so that the tests check the very programs `npm run bench` times.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

/** The C peers: the interop pair and the benchmark pair. */
export type InteropProgram = "interop_client" | "interop_worker" | "bench_client" | "bench_worker";

/** Every C peer. */
export const INTEROP_PROGRAMS: readonly InteropProgram[] = ["interop_client", "interop_worker", "bench_client", "bench_worker"];

const SOURCE_DIR = fileURLToPath(new URL("../interop/", import.meta.url));
const BENCH_SOURCE_DIR = fileURLToPath(new URL("../bench/c/", import.meta.url));
const BIN_DIR = join(SOURCE_DIR, "bin");
const INSTALL_HINT = "install libgearman's headers with `sudo apt-get install -y libgearman-dev` (and gcc with `sudo apt-get install -y gcc`)";

/** Where a program's binary lives (built or not). */
export function interopBinary(name: InteropProgram): string {
  return join(BIN_DIR, name);
}

function gcc(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("gcc", args, { timeout: 120_000 }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return reject(new Error(`gcc not found: ${INSTALL_HINT}`));
      if (/libgearman-1\.0\/gearman\.h|cannot find -lgearman/.test(stderr)) {
        return reject(new Error(`libgearman headers or library missing: ${INSTALL_HINT}\n${stderr}`));
      }
      reject(new Error(`gcc ${args.join(" ")} failed:\n${stderr || error.message}`));
    });
  });
}

function newer(source: string, binary: string): boolean {
  if (!existsSync(binary)) return true;
  return statSync(source).mtimeMs > statSync(binary).mtimeMs;
}

/**
 * Builds the named programs (all by default) unless their binaries are up to date, and returns
 * their paths. Safe to call from several test files at once: each build writes a private temporary
 * file and renames it into place.
 */
export async function buildInterop(names: readonly InteropProgram[] = INTEROP_PROGRAMS): Promise<Record<InteropProgram, string>> {
  mkdirSync(BIN_DIR, { recursive: true });
  await Promise.all(names.map(async (name) => {
    const source = join(name.startsWith("bench_") ? BENCH_SOURCE_DIR : SOURCE_DIR, `${name}.c`);
    const binary = interopBinary(name);
    if (!newer(source, binary)) return;
    const tmp = `${binary}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await gcc(["-O2", "-Wall", "-pthread", "-o", tmp, source, "-lgearman"]);
      renameSync(tmp, binary);
    } finally {
      rmSync(tmp, { force: true });
    }
  }));
  return Object.fromEntries(INTEROP_PROGRAMS.map((n) => [n, interopBinary(n)])) as Record<InteropProgram, string>;
}
