// Deno: the SDK over Deno's global WebSocket through the bridge (run by Node from dist/), against a real gearmand.
import assert from "node:assert/strict";
import { Client, JobFailedError, PolicyError, Worker } from "../../src/deno.ts";
import { startGearmand } from "../support/gearmand.ts";
import { startBridgeCli } from "./bridge-cli.ts";

Deno.test("deno websocket: worker and client through the bridge", async () => {
  const gearmand = await startGearmand({ args: ["--threads=0"] });
  const bridge = await startBridgeCli(gearmand.address, {
    tokens: {
      "deno-worker-token": { id: "deno-worker", roles: ["worker", "client"], submit: ["deno.*"], register: ["deno.*"] },
      "deno-client-token": { id: "deno-client", roles: ["client"], submit: ["deno.*"] },
    },
  });
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
    await bridge.stop();
    await gearmand.stop();
  }
});
