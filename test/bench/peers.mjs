// One adapter per JavaScript client library, each used the way its README shows:
//   worker({ port, fn, slots }) -> { close() }          `slots` jobs at once
//   client({ port })            -> { submit(fn, payload) -> Promise<Buffer|Uint8Array>,
//                                    background(fn, payload) -> Promise<handle>, close() }
// Nothing here tunes a peer beyond its documented options (no forced TCP_NODELAY).
import { createRequire } from "node:module";
import { nodeFloor } from "./node-floor.mjs";

const require = createRequire(import.meta.url);
const DIST = process.env.GEARMAN_SDK_DIST ?? new URL("../../dist/node.js", import.meta.url).href;

/** This SDK: Worker with concurrency = slots on one connection; Client on one connection. */
const sdk = {
  name: "gearman-sdk",
  async worker({ port, fn, slots }) {
    const { Worker } = await import(DIST);
    const worker = new Worker({ servers: [`127.0.0.1:${port}`], concurrency: slots });
    worker.defineFunction(fn, (job) => job.workload);
    await worker.start();
    return { connections: 1, close: () => worker.stop({ graceful: false }) };
  },
  async client({ port }) {
    const { Client } = await import(DIST);
    const client = new Client({ servers: [`127.0.0.1:${port}`] });
    return {
      submit: (fn, payload) => client.submit(fn, payload).result(),
      background: (fn, payload) => client.submitBackground(fn, payload),
      close: () => client.close(),
    };
  },
};

/** abraxas 2.1.10: one Client with maxJobs = slots is the worker (one connection). */
const abraxas = {
  name: "abraxas",
  async worker({ port, fn, slots }) {
    const Gearman = require("abraxas");
    let c;
    await new Promise((r) => (c = Gearman.Client.connect({ servers: [`127.0.0.1:${port}`], maxJobs: slots }, r)));
    c.on("connection-error", () => {});
    c.registerWorker(fn, (task) => task.payload);
    return { connections: 1, close: async () => c.disconnect() };
  },
  async client({ port }) {
    const Gearman = require("abraxas");
    let c;
    await new Promise((r) => (c = Gearman.Client.connect({ servers: [`127.0.0.1:${port}`] }, r)));
    c.on("connection-error", () => {});
    return {
      submit: (fn, payload) => new Promise((resolve, reject) => c.submitJob(fn, payload, (e, d) => (e ? reject(e) : resolve(d)))),
      background: (fn, payload) => new Promise((resolve, reject) => c.submitJobBg(fn, payload, (e, h) => (e ? reject(e) : resolve(h)))),
      close: async () => c.disconnect(),
    };
  },
};

/**
 * gearman 2.1.0 (npm): a thin packet API, one connection per instance; a worker connection runs
 * one job at a time, so `slots` worker connections. The client correlates JOB_CREATED in order.
 */
const gearmanNpm = {
  name: "gearman",
  async worker({ port, fn, slots }) {
    const gearman = require("gearman");
    const conns = [];
    for (let i = 0; i < slots; i++) {
      const w = gearman("127.0.0.1", port);
      w.on("error", () => {});
      w.on("JOB_ASSIGN", (job) => {
        w.sendWorkComplete(job.handle, job.payload);
        w.grabJob();
      });
      w.on("NO_JOB", () => w.preSleep());
      w.on("NOOP", () => w.grabJob());
      await new Promise((r) => w.connect(r));
      w.addFunction(fn);
      w.grabJob();
      conns.push(w);
    }
    return { connections: slots, close: async () => conns.forEach((w) => w.close()) };
  },
  async client({ port }) {
    const gearman = require("gearman");
    const c = gearman("127.0.0.1", port);
    c.on("error", () => {});
    const awaitingCreated = [];
    const byHandle = new Map();
    c.on("JOB_CREATED", (handle) => {
      const p = awaitingCreated.shift();
      if (!p) return;
      if (p.background) p.resolve(handle);
      else byHandle.set(handle, p);
    });
    c.on("WORK_COMPLETE", (job) => {
      const p = byHandle.get(job.handle);
      if (!p) return;
      byHandle.delete(job.handle);
      p.resolve(job.payload);
    });
    c.on("WORK_FAIL", (job) => {
      const p = byHandle.get(job.handle);
      if (p) (byHandle.delete(job.handle), p.reject(new Error("WORK_FAIL")));
    });
    await new Promise((r) => c.connect(r));
    const send = (fn, payload, background) => new Promise((resolve, reject) => {
      awaitingCreated.push({ resolve, reject, background });
      c.submitJob(fn, Buffer.from(payload), background ? { background: true } : {});
    });
    return {
      submit: (fn, payload) => send(fn, payload, false),
      background: (fn, payload) => send(fn, payload, true),
      close: async () => c.close(),
    };
  },
};

/**
 * gearmanode's loggers are winston 3 loggers without a transport, which print a warning to stderr on
 * every call (several per job). Give them a silent transport so the bench measures the library, not
 * a logging misconfiguration of this dependency tree.
 */
let quieted = false;
function quietGearmanode() {
  const winston = createRequire(require.resolve("gearmanode"))("winston");
  if (!quieted) {
    quieted = true;
    for (const id of ["Client", "Worker", "JobServer", "Job", "LBStrategy", "protocol"]) winston.loggers.get(id).add(new winston.transports.Console({ silent: true }));
    winston.add(new winston.transports.Console({ silent: true }));
  }
  return require("gearmanode");
}

/** gearmanode 0.9.2: one worker object per connection, one job at a time each, so `slots` workers. */
const gearmanode = {
  name: "gearmanode",
  async worker({ port, fn, slots }) {
    const gm = quietGearmanode();
    const workers = [];
    for (let i = 0; i < slots; i++) {
      const w = gm.worker({ host: "127.0.0.1", port });
      w.on("error", () => {});
      w.addFunction(fn, (job) => job.workComplete(job.payload));
      workers.push(w);
    }
    return { connections: slots, close: async () => workers.forEach((w) => w.close()) };
  },
  async client({ port }) {
    const gm = quietGearmanode();
    const c = gm.client({ host: "127.0.0.1", port });
    c.on("error", () => {});
    return {
      submit: (fn, payload) => new Promise((resolve, reject) => {
        const job = c.submitJob(fn, Buffer.from(payload));
        job.on("complete", () => resolve(job.response));
        job.on("failed", () => reject(new Error("failed")));
        job.on("error", reject);
      }),
      background: (fn, payload) => new Promise((resolve, reject) => {
        const job = c.submitJob(fn, Buffer.from(payload), { background: true });
        job.on("created", () => resolve(job.handle));
        job.on("error", reject);
      }),
      close: async () => c.close(),
    };
  },
};

export const PEERS = { sdk, abraxas, gearman: gearmanNpm, gearmanode, floor: nodeFloor };
