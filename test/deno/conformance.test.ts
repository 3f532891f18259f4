// Deno: the shared conformance suite (test/support/conformance.ts) over Deno.connect TCP and over
// Deno's global WebSocket through the bridge (run by Node from dist/bridge-cli.js; `npm run build` first).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as sdk from "../../src/deno.ts";
import { type ConformanceSetup, conformanceCases, runCase } from "../support/conformance.ts";
import { freePort, startGearmand } from "../support/gearmand.ts";

const PREFIX = `conf${Deno.pid}`;
const TOKEN = "conformance-token";

async function startBridgeCli(upstream: string): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "conformance-bridge-"));
  const policy = join(dir, "policy.json");
  writeFileSync(policy, JSON.stringify({
    tokens: { [TOKEN]: { id: "conformance", roles: ["client", "worker"], submit: [`${PREFIX}.*`], register: [`${PREFIX}.*`] } },
    // The 1 MiB case sends a packet of 1 MiB plus its other fields; the default cap is 1 MiB.
    limits: { maxPacketSize: 4 << 20 },
  }));
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

const transports: { name: string; bridge: boolean }[] = [
  { name: "deno-tcp", bridge: false },
  { name: "deno-ws-bridge", bridge: true },
];

for (const transport of transports) {
  Deno.test(`conformance ${transport.name}`, async (t) => {
    const gearmand = await startGearmand({ args: ["--threads=0"] });
    const bridge = transport.bridge ? await startBridgeCli(gearmand.address) : undefined;
    const setup: ConformanceSetup = bridge
      ? { sdk, servers: [bridge.url], options: { token: TOKEN }, prefix: PREFIX }
      : { sdk, servers: [`tcp://${gearmand.address}`], prefix: PREFIX };
    try {
      for (const c of conformanceCases) {
        await t.step(`${transport.name}: ${c.name}`, () => runCase(c, setup, 25_000));
      }
    } finally {
      await bridge?.stop();
      await gearmand.stop();
    }
  });
}
