// Deno: the bridge CLI (dist/bridge-cli.js, run by Node; `npm run build` first) for the Deno suites. Not a test file.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../support/gearmand.ts";

/** Starts the bridge CLI with a policy file made of `policyFile`, in front of `upstream`; resolves with its ws:// URL. */
export async function startBridgeCli(upstream: string, policyFile: object): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "deno-bridge-"));
  const policy = join(dir, "policy.json");
  writeFileSync(policy, JSON.stringify(policyFile));
  const port = await freePort();
  const child = spawn("node", ["dist/bridge-cli.js", "--listen", `127.0.0.1:${port}`, "--upstream", upstream, "--policy", policy], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  child.stderr!.on("data", (d: Uint8Array) => {
    stderr += new TextDecoder().decode(d);
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("bridge did not start (run `npm run build` first)")), 10_000);
    child.stdout!.on("data", (d: Uint8Array) => {
      const m = /ws:\/\/\S+/.exec(new TextDecoder().decode(d));
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`bridge exited with ${code}: ${stderr.slice(-2000)}`));
    });
  });
  return {
    url,
    async stop() {
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
