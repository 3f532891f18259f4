#!/usr/bin/env node
// Node only: `npm start`. Serves the playground on 127.0.0.1 with the bridge on the same origin.
//   node playground/serve.mjs [--port N] [--host H] [--upstream host:port|gearmand|embedded]
// PORT and GEARMAN_SERVERS are read from the environment when the flags are absent.
import { parseArgs } from "node:util";
import { startPlayground } from "./server.mjs";

const USAGE = `usage: node playground/serve.mjs [--port N] [--host 127.0.0.1] [--upstream host:port|gearmand|embedded]

  --port       port of the page (default: $PORT, else a free port)
  --host       address to listen on (default 127.0.0.1)
  --upstream   the job server: host:port (default: $GEARMAN_SERVERS), "gearmand" to start
               the one on PATH, "embedded" for the SDK's own job server; without either,
               gearmand if it is installed, else the embedded server
`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      port: { type: "string", short: "p" },
      host: { type: "string" },
      upstream: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  }));
} catch (err) {
  process.stderr.write(`${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const portText = values.port ?? process.env.PORT ?? "0";
const port = Number(portText);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`bad port ${JSON.stringify(portText)}\n`);
  process.exit(2);
}

let playground;
try {
  playground = await startPlayground({ port, host: values.host, upstream: values.upstream ?? process.env.GEARMAN_SERVERS });
} catch (err) {
  process.stderr.write(`playground: ${err.message}\n`);
  process.exit(1);
}
const { upstream } = playground;
process.stdout.write(
  `Gearman playground: ${playground.url}\n` +
    `  job server: ${upstream.address}, ${upstream.detail}, version ${upstream.version}\n` +
    `  bridge:     ${playground.url.replace(/^http/, "ws")}gearman\n` +
    "Open the page in two tabs: start workers in one, submit jobs from the other. Ctrl-C stops.\n",
);

let stopping = false;
async function stop(signal) {
  if (stopping) process.exit(1);
  stopping = true;
  process.stdout.write(`\n${signal}: stopping the playground…\n`);
  const force = setTimeout(() => process.exit(1), 5000);
  force.unref();
  await playground.close();
  process.exit(0);
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
