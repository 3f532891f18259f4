// Node: the SDK's Client and Worker through the bridge (ws://), including a bridge restart (C7).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { WebSocket } from "ws";
import { type Bridge, type BridgePolicy, startBridge } from "../../bridge/bridge.ts";
import { Client, PolicyError, Worker } from "../../src/node.ts";
import { websocketConnector } from "../../src/transports/websocket.ts";
import { type Gearmand, startGearmand } from "../support/gearmand.ts";
import { admin } from "../support/peers.ts";

const POLICY: BridgePolicy = {
  tokens: {
    "tok-web": { id: "web", roles: ["client"], submit: ["app.*"] },
    "tok-svc": { id: "svc", roles: ["worker"], register: ["app.*"] },
  },
};
const quiet = { warn: () => {}, error: () => {} };
const via = (token: string) => (server: string) => websocketConnector(server, { WebSocket, token });

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function setup(): Promise<{ g: Gearmand; b: Bridge }> {
  const g = await startGearmand({ args: ["--threads=0"] });
  cleanups.push(() => g.stop());
  const b = await startBridge({ upstream: g.address, policy: POLICY, logger: () => {} });
  cleanups.push(() => b.close());
  return { g, b };
}

test("Client and Worker over ws:// through the bridge; the worker's clientId gives way to the principal", async () => {
  const { g, b } = await setup();
  const worker = new Worker({ servers: [b.url], connector: via("tok-svc"), clientId: "spoofed", logger: quiet });
  worker.defineFunction("app.reverse", async (job) => [...job.text()].reverse().join(""));
  await worker.start();
  cleanups.push(() => worker.stop({ graceful: false }));
  const client = new Client({ servers: [b.url], connector: via("tok-web"), logger: quiet });
  cleanups.push(() => client.close());
  expect(new TextDecoder().decode(await client.execute("app.reverse", "bridge"))).toBe("egdirb");
  const many = await Promise.all(Array.from({ length: 200 }, (_, i) => client.execute("app.reverse", `n${i}`, { unique: `k${i}` })));
  expect(many.map((r) => new TextDecoder().decode(r))).toEqual(Array.from({ length: 200 }, (_, i) => [...`n${i}`].reverse().join("")));
  const task = client.submit("app.reverse", "status me", { unique: "mine" });
  await task.created();
  const rows = await admin(g.port, "workers");
  expect(rows.some((r) => / svc : app\.reverse$/.test(r))).toBe(true);
  expect(rows.join("\n")).not.toContain("spoofed");
  await task.result();
});

test("a denied submit surfaces as PolicyError (1008 with the bridge's reason)", async () => {
  const { b } = await setup();
  const client = new Client({ servers: [b.url], connector: via("tok-web"), logger: quiet, reconnectDelay: 60_000 });
  cleanups.push(() => client.close());
  const err = await client.execute("other.fn", "x", { timeout: 5000 }).catch((e: unknown) => e);
  // The core may hand the PolicyError through or wrap it in a ConnectionError (as `cause`).
  const policy = err instanceof PolicyError ? err : (err as Error).cause;
  expect(policy).toBeInstanceOf(PolicyError);
  expect((policy as PolicyError).closeCode).toBe(1008);
  expect((policy as PolicyError).reason).toMatch(/submit of function other.fn not allowed/);
});

test("C7: after a bridge restart on the same port, Client and Worker reconnect and jobs run again", async () => {
  const { g, b } = await setup();
  const worker = new Worker({ servers: [b.url], connector: via("tok-svc"), logger: quiet, reconnectDelay: 50, maxReconnectDelay: 200 });
  worker.defineFunction("app.echo", async (job) => job.workload);
  await worker.start();
  cleanups.push(() => worker.stop({ graceful: false }));
  const client = new Client({ servers: [b.url], connector: via("tok-web"), logger: quiet, reconnectDelay: 50, maxReconnectDelay: 200 });
  cleanups.push(() => client.close());
  expect(new TextDecoder().decode(await client.execute("app.echo", "before"))).toBe("before");
  const port = b.port;
  await b.close();
  const b2 = await startBridge({ upstream: g.address, policy: POLICY, port, logger: () => {} });
  cleanups.push(() => b2.close());
  const deadline = Date.now() + 10_000;
  let result = "";
  while (Date.now() < deadline && result !== "after") {
    result = await client.execute("app.echo", "after", { timeout: 2000 }).then((r) => new TextDecoder().decode(r), () => "");
  }
  expect(result).toBe("after");
});

test("40 submits of 300 KB in one turn through the bridge: each WebSocket message stays under its packet limit, every job runs", async () => {
  const { b } = await setup();
  const worker = new Worker({ servers: [b.url], connector: via("tok-svc"), logger: quiet, concurrency: 4 });
  worker.defineFunction("app.size", (job) => String(job.workload.length));
  await worker.start();
  cleanups.push(() => worker.stop({ graceful: false }));
  const client = new Client({ servers: [b.url], connector: via("tok-web"), logger: quiet });
  cleanups.push(() => client.close());
  const payload = new Uint8Array(300_000).fill(7);
  // The transport pushes back while these queue up; what was held must leave as whole packets in messages of
  // about 256 KiB, not as one 12 MB message (the bridge closes with 1009 above 1 MiB + 12).
  const results = await Promise.all(Array.from({ length: 40 }, () => client.execute("app.size", payload, { timeout: 20_000 })));
  expect(results.map((r) => new TextDecoder().decode(r))).toEqual(Array(40).fill("300000"));
});

/** A tok-svc worker through the bridge that counts its connection attempts and keeps its error log lines. */
function countingWorker(url: string, reconnectDelay: number, maxReconnectDelay: number): { worker: Worker; attempts: () => number; errors: string[] } {
  let attempts = 0;
  const errors: string[] = [];
  const worker = new Worker({
    servers: [url], connector: (server) => (signal) => (attempts++, via("tok-svc")(server)(signal)), reconnectDelay, maxReconnectDelay,
    logger: { warn: () => {}, error: (m) => void errors.push(m) },
  });
  cleanups.push(() => worker.stop({ graceful: false }));
  return { worker, attempts: () => attempts, errors };
}

test("a worker whose CAN_DO the bridge refuses: start() rejects with the PolicyError, logged as an error, and nothing retries", async () => {
  const { b } = await setup();
  const { worker, attempts, errors } = countingWorker(b.url, 20, 200);
  worker.defineFunction("other.fn", () => "never");
  const err = await worker.start().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(PolicyError);
  expect((err as PolicyError).closeCode).toBe(1008);
  expect((err as PolicyError).reason).toMatch(/register of function other.fn not allowed/);
  expect(errors.join("\n")).toMatch(/register of function other.fn not allowed/);
  await new Promise((r) => setTimeout(r, 500));
  expect(attempts()).toBe(1);
});

test("a policy close after start(): logged as an error each time, and the worker retries only at maxReconnectDelay", async () => {
  const { b } = await setup();
  const { worker, attempts, errors } = countingWorker(b.url, 10, 400);
  worker.defineFunction("app.ok", () => "ok");
  await worker.start();
  worker.defineFunction("other.fn", () => "never");
  await new Promise((r) => setTimeout(r, 1200));
  // At most one attempt per 200-400 ms (the jittered maximum), not one per 10 ms.
  expect(attempts()).toBeLessThanOrEqual(7);
  expect(errors.length).toBeGreaterThanOrEqual(1);
  expect(errors[0]).toMatch(/register of function other.fn not allowed/);
});

test("a policy close during the first request is not reported as the server refusing the exceptions option", async () => {
  const { b } = await setup();
  const warnings: string[] = [];
  const client = new Client({ servers: [b.url], connector: via("tok-web"), logger: { warn: (m) => void warnings.push(m) }, reconnectDelay: 60_000 });
  cleanups.push(() => client.close());
  // OPTION_REQ and this SUBMIT_JOB leave in one message; the bridge refuses the message (the unique is too long with the
  // principal prefix) and closes, so the OPTION_REQ is never answered.
  const err = await client.execute("app.x", "x", { unique: "u".repeat(60), timeout: 5000 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(PolicyError);
  await new Promise((r) => setTimeout(r, 50));
  expect(warnings.filter((w) => w.includes("exceptions option"))).toEqual([]);
});

test("wss://: the bridge mounted on an https server (spec §2.1 item 12, native TLS) serves a Client and a Worker", async () => {
  // A throwaway self-signed certificate for 127.0.0.1, made by openssl (no network).
  const dir = mkdtempSync(join(tmpdir(), "bridge-tls-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore", timeout: 30_000 });
  const cert = readFileSync(join(dir, "cert.pem"));
  const https = createHttpsServer({ key: readFileSync(join(dir, "key.pem")), cert });
  await new Promise<void>((r) => https.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise<void>((r) => https.close(() => r())));
  const g = await startGearmand({ args: ["--threads=0"] });
  cleanups.push(() => g.stop());
  const b = await startBridge({ upstream: g.address, policy: POLICY, server: https, logger: () => {} });
  cleanups.push(() => b.close());
  const url = `wss://127.0.0.1:${(https.address() as AddressInfo).port}/gearman`;
  // Node's ws trusts only the CA it is given: this certificate.
  class Trusting extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { ca: cert, perMessageDeflate: false });
    }
  }
  const tls = (token: string) => (server: string) => websocketConnector(server, { WebSocket: Trusting, token });
  const worker = new Worker({ servers: [url], connector: tls("tok-svc"), logger: quiet });
  worker.defineFunction("app.upper", (job) => job.text().toUpperCase());
  await worker.start();
  cleanups.push(() => worker.stop({ graceful: false }));
  const client = new Client({ servers: [url], connector: tls("tok-web"), logger: quiet });
  cleanups.push(() => client.close());
  expect(new TextDecoder().decode(await client.execute("app.upper", "over tls", { timeout: 10_000 }))).toBe("OVER TLS");
  expect(b.connections).toBe(2);
  // The certificate is checked: a WebSocket that does not trust it cannot connect.
  const untrusting = new Client({ servers: [url], connector: via("tok-web"), logger: quiet, reconnectDelay: 60_000 });
  cleanups.push(() => untrusting.close());
  await expect(untrusting.echo("x", { timeout: 5000 })).rejects.toThrow(/self[- ]signed|certificate/i);
});
