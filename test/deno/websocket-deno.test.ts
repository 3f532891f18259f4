// Deno: the SDK over Deno's global WebSocket through the bridge (run by Node from dist/), against a real gearmand.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, JobFailedError, PolicyError, Worker } from "../../src/deno.ts";
import { freePort, startGearmand } from "../support/gearmand.ts";

async function startBridgeCli(upstream: string): Promise<{ url: string; stop(): void }> {
  const dir = mkdtempSync(join(tmpdir(), "bridge-"));
  const policy = join(dir, "policy.json");
  writeFileSync(policy, JSON.stringify({
    tokens: {
      "deno-worker-token": { id: "deno-worker", roles: ["worker", "client"], submit: ["deno.*"], register: ["deno.*"] },
      "deno-client-token": { id: "deno-client", roles: ["client"], submit: ["deno.*"] },
    },
  }));
  const port = await freePort();
  const child = spawn("node", ["dist/bridge-cli.js", "--listen", `127.0.0.1:${port}`, "--upstream", upstream, "--policy", policy], {
    stdio: ["ignore", "pipe", "pipe"],
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
    child.once("exit", (code) => reject(new Error(`bridge exited with ${code}`)));
  });
  child.stderr!.resume();
  return { url, stop: () => child.kill("SIGTERM") };
}

Deno.test("deno websocket: worker and client through the bridge", async () => {
  const gearmand = await startGearmand({ args: ["--threads=0"] });
  const bridge = await startBridgeCli(gearmand.address);
  const worker = new Worker({ servers: [bridge.url], token: "deno-worker-token" });
  worker.defineFunction("deno.upper", (job) => job.text().toUpperCase());
  worker.defineFunction("deno.fail", () => {
    throw new Error("nope");
  });
  const client = new Client({ servers: [bridge.url], token: "deno-client-token" });
  try {
    await worker.start();
    assert.equal(new TextDecoder().decode(await client.execute("deno.upper", "through the bridge")), "THROUGH THE BRIDGE");
    await assert.rejects(client.execute("deno.fail", "x"), JobFailedError);
    const many = await Promise.all(Array.from({ length: 100 }, (_, i) => client.execute("deno.upper", `j${i}`)));
    assert.equal(new TextDecoder().decode(many[99]), "J99");
    // A function outside the principal's allow-list closes the connection with a policy code.
    const other = new Client({ servers: [bridge.url], token: "deno-client-token" });
    await assert.rejects(other.execute("forbidden", "x"), PolicyError);
    await other.close();
  } finally {
    await client.close();
    await worker.stop({ graceful: false });
    bridge.stop();
    await gearmand.stop();
  }
});
