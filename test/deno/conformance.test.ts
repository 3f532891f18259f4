// Deno: the shared conformance suite (test/support/conformance.ts) over Deno.connect TCP and over
// Deno's global WebSocket through the bridge (run by Node from dist/bridge-cli.js; `npm run build` first).
import * as sdk from "../../src/deno.ts";
import { type ConformanceSetup, conformanceCases, runCase } from "../support/conformance.ts";
import { startGearmand } from "../support/gearmand.ts";
import { startBridgeCli } from "./bridge-cli.ts";

const PREFIX = `conf${Deno.pid}`;
const TOKEN = "conformance-token";

const transports: { name: string; bridge: boolean }[] = [
  { name: "deno-tcp", bridge: false },
  { name: "deno-ws-bridge", bridge: true },
];

for (const transport of transports) {
  Deno.test(`conformance ${transport.name}`, async (t) => {
    const gearmand = await startGearmand({ args: ["--threads=0"] });
    const bridge = transport.bridge
      ? await startBridgeCli(gearmand.address, {
        tokens: { [TOKEN]: { id: "conformance", roles: ["client", "worker"], submit: [`${PREFIX}.*`], register: [`${PREFIX}.*`] } },
        // The 1 MiB case sends a packet of 1 MiB plus its other fields; the default cap is 1 MiB.
        limits: { maxPacketSize: 4 << 20 },
      })
      : undefined;
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
