// A user project's code, compiled by strict-consumer.test.ts with exactOptionalPropertyTypes and noUncheckedIndexedAccess:
// options built from values that may be undefined (forwarded from the user's own optional settings) must be accepted.
import { startBridge } from "../../bridge/bridge.ts";
import { AdminClient, Client, GearmanReturn, partitioned, tcpConnector, websocketConnector, Worker } from "../../src/node.ts";
import { startServer } from "../../src/server/node.ts";

/** Settings as a user's app might hold them: every one may be missing. */
export interface AppSettings {
  servers: readonly string[];
  token?: string | undefined;
  timeout?: number | undefined;
  signal?: AbortSignal | undefined;
  unique?: string | undefined;
  concurrency?: number | undefined;
  port?: number | undefined;
}

/** Uses every options object with possibly-undefined values. */
export async function run(s: AppSettings): Promise<void> {
  const client = new Client({ servers: s.servers, token: s.token, requestWindow: s.concurrency, tap: undefined });
  const task = client.submit("f", "x", { timeout: s.timeout, signal: s.signal, unique: s.unique, priority: undefined });
  task.on("status", (e) => console.log(e.numerator / e.denominator));
  await client.echo("x", { timeout: s.timeout, signal: s.signal });
  await client.getStatus("H:x:1", { timeout: s.timeout });
  const worker = new Worker({ servers: s.servers, concurrency: s.concurrency, clientId: undefined, logger: undefined });
  worker.defineFunction("f", (job) => job.text() || GearmanReturn.SUCCESS, { timeout: s.timeout, exceptions: undefined });
  worker.defineFunction("g", partitioned({ partition: () => {}, aggregate: undefined }), { maxInFlight: s.concurrency });
  await worker.stop({ timeout: s.timeout, graceful: undefined });
  const admin = new AdminClient({ server: s.servers[0] ?? "127.0.0.1:4730", timeout: s.timeout });
  await admin.status({ timeout: s.timeout, signal: s.signal });
  tcpConnector("127.0.0.1:4730", { connectTimeout: s.timeout });
  websocketConnector("ws://127.0.0.1:8080/gearman", { token: s.token, protocols: ["gearman.v1"] as const, connectTimeout: s.timeout });
  const server = await startServer({ port: s.port, host: undefined, jobRetries: undefined });
  const bridge = await startBridge({
    upstream: server.address, port: s.port, logger: undefined, limits: { maxConnections: s.concurrency },
    policy: { tokens: { t: { id: "web", roles: ["client"], submit: undefined, exp: undefined } }, hmac: undefined },
  });
  await bridge.close();
  await server.close();
}
