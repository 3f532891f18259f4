// Node: the shared conformance suite (test/support/conformance.ts) over Node TCP and over WebSocket
// (the `ws` package) through the policy bridge, against the run's job server (gearmand, or the
// embedded server with GEARMAN_SDK_SERVER=embedded).
import { afterAll, beforeAll, describe, inject, it } from "vitest";
import { type Bridge, startBridge } from "../../bridge/bridge.ts";
import * as sdk from "../../src/node.ts";
import { type ConformanceSetup, conformanceCases, runCase } from "../support/conformance.ts";

// Function names of this run (the job server is shared with other suites); the bridge allows only these.
const PREFIX = `conf${process.pid}`;
const TOKEN = "conformance-token";
const upstream = (): string => `127.0.0.1:${inject("gearmandPort")}`;

let bridge: Bridge | undefined;

afterAll(async () => {
  await bridge?.close();
});

const transports: { name: string; setup(): Promise<ConformanceSetup> }[] = [
  {
    name: "node-tcp",
    setup: () => Promise.resolve({ sdk, servers: [upstream()], prefix: PREFIX }),
  },
  {
    name: "node-ws-bridge",
    setup: async () => {
      bridge = await startBridge({
        upstream: upstream(),
        policy: { tokens: { [TOKEN]: { id: "conformance", roles: ["client", "worker"], submit: [`${PREFIX}.*`], register: [`${PREFIX}.*`] } } },
        // The 1 MiB case sends a packet of 1 MiB plus its other fields; the default cap is 1 MiB.
        limits: { maxPacketSize: 4 << 20 },
        logger: () => {},
      });
      return { sdk, servers: [bridge.url], options: { token: TOKEN }, prefix: PREFIX };
    },
  },
];

describe.each(transports)("$name", (transport) => {
  let setup: ConformanceSetup;
  beforeAll(async () => {
    setup = await transport.setup();
  });
  it.each(conformanceCases)("$name", async (c) => {
    await runCase(c, setup, 25_000);
  });
});
