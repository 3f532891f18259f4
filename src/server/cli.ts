#!/usr/bin/env node
// Node only: node:util, process.
/**
 * `gearman-sdk-server --port 4730 [--host 127.0.0.1] [--job-retries N] [--max-queue N]`: runs the
 * embedded job server until SIGINT/SIGTERM and prints the address it is bound to.
 * @module
 */
import { parseArgs } from "node:util";
import { startServer } from "./node.ts";

const USAGE = `usage: gearman-sdk-server [--port 4730] [--host 127.0.0.1] [--job-retries N] [--max-queue N]
                          [--exceptions] [--worker-wakeup N] [--max-packet-size BYTES] [--name NAME]`;

function int(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new TypeError(`--${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", short: "p" },
      host: { type: "string", short: "L" },
      "job-retries": { type: "string", short: "j" },
      "max-queue": { type: "string" },
      "worker-wakeup": { type: "string", short: "w" },
      "max-packet-size": { type: "string" },
      exceptions: { type: "boolean" },
      name: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const srv = await startServer({
    port: int("port", values.port, 4730),
    host: values.host ?? "127.0.0.1",
    jobRetries: int("job-retries", values["job-retries"], 0),
    maxQueue: int("max-queue", values["max-queue"], 0),
    workerWakeup: int("worker-wakeup", values["worker-wakeup"], 0),
    ...(values["max-packet-size"] !== undefined ? { maxPacketSize: int("max-packet-size", values["max-packet-size"], 0) } : {}),
    ...(values.name !== undefined ? { name: values.name } : {}),
    exceptions: values.exceptions ?? false,
  });
  console.log(`gearman-sdk-server listening on ${srv.address}`);
  const stop = (): void => {
    void srv.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((err: unknown) => {
  console.error(`gearman-sdk-server: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  process.exit(2);
});
