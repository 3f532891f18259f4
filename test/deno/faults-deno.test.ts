// Deno: faults of the Deno entry's own transports (Deno.connect, and the ws:// connector as the Deno entry wires it),
// loopback only and bounded in time. Sanitizers stay on: a leaked op, timer or resource fails the test.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  Client,
  ClosedError,
  ConnectionError,
  GearmanError,
  InvalidArgumentError,
  PolicyError,
  ProtocolError,
  tcpConnector,
  Worker,
} from "../../src/deno.ts";
import { startGearmand } from "../support/gearmand.ts";
import { startBridgeCli } from "./bridge-cli.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A loopback port whose SYNs go unanswered: a Node child listens with a backlog of 1 and then blocks its event loop,
 * so the kernel's accept queue fills with the first connections and drops every SYN after them (like a hung host).
 */
async function blackhole(): Promise<{ port: number; stop(): Promise<void> }> {
  const child = spawn("node", [
    "-e",
    `
    const srv = require("node:net").createServer();
    srv.listen({ host: "127.0.0.1", port: 0, backlog: 1 }, () => {
      process.stdout.write(srv.address().port + "\\n", () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000));
    });`,
  ], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once("data", (d: Uint8Array) => resolve(Number(new TextDecoder().decode(d).trim())));
    child.once("exit", (code) => reject(new Error(`blackhole exited with ${code}`)));
  });
  // Fills the accept queue: these complete in the kernel until it is full; the first that does not is aborted.
  const fillers: Deno.TcpConn[] = [];
  for (let full = false; !full;) {
    if (fillers.length > 16) throw new Error("the accept queue does not fill up");
    const conn = await Deno.connect({ hostname: "127.0.0.1", port, signal: AbortSignal.timeout(300) }).catch(() => undefined);
    if (conn) fillers.push(conn);
    else full = true;
  }
  return {
    port,
    async stop() {
      for (const c of fillers) c.close();
      child.kill("SIGKILL");
      await exited;
    },
  };
}

Deno.test("deno tcp: a connect that gets no answer times out (connectTimeout) and honours the signal", async () => {
  const hole = await blackhole();
  try {
    const t0 = Date.now();
    const err = await tcpConnector(`127.0.0.1:${hole.port}`, { connectTimeout: 300 })().catch((e) => e);
    assert.ok(err instanceof ConnectionError, String(err));
    assert.match(err.message, /no answer within 300 ms/);
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);

    const aborted = await tcpConnector(`127.0.0.1:${hole.port}`)(AbortSignal.timeout(200)).catch((e) => e);
    assert.ok(aborted instanceof ConnectionError, String(aborted));
    assert.match(aborted.message, /aborted/);

    // The client's connect attempt ends too, so execute() rejects and close() does not wait for the kernel's SYN retries.
    const client = new Client({ servers: [`tcp://127.0.0.1:${hole.port}`], connector: (s) => tcpConnector(s, { connectTimeout: 300 }) });
    const failed = await client.execute("f", "x").catch((e) => e);
    assert.ok(failed instanceof ConnectionError, String(failed));
    const t1 = Date.now();
    await client.close();
    assert.ok(Date.now() - t1 < 1000);
  } finally {
    await hole.stop();
  }
});

// Needs the core to pass its AbortSignal to the connector (client.close() and worker.stop() abort it) and the Deno
// connector to honour it: otherwise both wait for the default 10 s deadline, or (before it existed) the kernel's SYN retries.
Deno.test("deno tcp: client.close() and worker.stop() end a connect that gets no answer at once", async () => {
  const hole = await blackhole();
  try {
    const client = new Client({ servers: [`tcp://127.0.0.1:${hole.port}`] });
    const task = client.execute("f", "x").catch((e) => e);
    await sleep(100);
    const t0 = Date.now();
    await client.close();
    assert.ok((await task) instanceof ClosedError);
    assert.ok(Date.now() - t0 < 1000, `client.close() took ${Date.now() - t0} ms`);

    const worker = new Worker({ servers: [`tcp://127.0.0.1:${hole.port}`] });
    worker.defineFunction("f", () => "x");
    const started = worker.start().catch((e) => e);
    await sleep(100);
    const t1 = Date.now();
    await worker.stop();
    assert.ok((await started) instanceof GearmanError);
    assert.ok(Date.now() - t1 < 1000, `worker.stop() took ${Date.now() - t1} ms`);
  } finally {
    await hole.stop();
  }
});

Deno.test("deno tcp: close() while a write is stuck on a peer that stopped reading ends within 2 s", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const client = new Client({ servers: [`127.0.0.1:${listener.addr.port}`], exceptions: false });
  const task = client.execute("f", new Uint8Array(16 << 20)).catch((e) => e);
  const peer = await accepted;
  try {
    await sleep(200); // the socket buffers fill up; the rest waits in the transport
    const t0 = Date.now();
    await client.close();
    const outcome = await Promise.race([task, sleep(5000).then(() => "still pending after 5 s")]);
    assert.ok(outcome instanceof ClosedError, String(outcome));
    assert.ok(Date.now() - t0 < 4000, `took ${Date.now() - t0} ms`);
    // The socket is really gone: the peer reads what got through, then the end of the stream (or a reset).
    const buf = new Uint8Array(1 << 20);
    try {
      while ((await peer.read(buf)) !== null) { /* drain */ }
    } catch (err) {
      assert.ok(err instanceof Deno.errors.ConnectionReset, String(err));
    }
  } finally {
    peer.close();
    listener.close();
  }
});

Deno.test("deno tcp: a server closing mid-packet rejects the pending task with ProtocolError(truncated)", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    await conn.read(new Uint8Array(4096)); // SUBMIT_JOB
    const body = new TextEncoder().encode("H:deno:1");
    const packet = new Uint8Array(12 + body.length);
    packet.set([0, 0x52, 0x45, 0x53, 0, 0, 0, 8, 0, 0, 0, body.length]); // \0RES JOB_CREATED
    packet.set(body, 12);
    await conn.write(packet.subarray(0, 15));
    conn.close();
  })();
  const client = new Client({ servers: [`127.0.0.1:${listener.addr.port}`], exceptions: false });
  try {
    const err = await client.execute("f", "x").catch((e) => e);
    assert.ok(err instanceof ProtocolError, String(err));
    assert.equal(err.reason, "truncated");
  } finally {
    await client.close();
    await served;
    listener.close();
  }
});

Deno.test("deno: gearmand killed mid-job (kill -9) and restarted: typed failure, then worker and client reconnect", async () => {
  const first = await startGearmand({ args: ["--threads=0"], real: true });
  const servers = [`tcp://127.0.0.1:${first.port}`];
  const fast = { reconnectDelay: 50, maxReconnectDelay: 200 };
  const worker = new Worker({ servers, ...fast });
  let inJob!: () => void;
  const entered = new Promise<void>((r) => (inJob = r));
  worker.defineFunction("deno_kill9", async (job) => {
    if (job.text() === "first") {
      inJob();
      await new Promise((r) => job.signal.addEventListener("abort", r, { once: true }));
    }
    return job.text().toUpperCase();
  });
  const client = new Client({ servers, ...fast });
  let second: Awaited<ReturnType<typeof startGearmand>> | undefined;
  try {
    await worker.start();
    const task = client.execute("deno_kill9", "first").catch((e) => e);
    await entered;
    await first.stop("SIGKILL");
    assert.ok((await task) instanceof ConnectionError);
    second = await startGearmand({ args: ["--threads=0"], port: first.port, real: true });
    let out: Uint8Array | undefined;
    for (let i = 0; i < 100 && !out; i++) {
      out = await client.execute("deno_kill9", "again", { timeout: 1000 }).catch(() => sleep(50).then(() => undefined));
    }
    assert.equal(new TextDecoder().decode(out), "AGAIN");
  } finally {
    await client.close();
    await worker.stop({ graceful: false });
    await second?.stop();
    await first.stop();
  }
});

for (const code of [1008, 4401, 1009]) {
  Deno.test(`deno websocket: a bridge closing with ${code} gives PolicyError to the client and to worker.start()`, async () => {
    const ac = new AbortController();
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} }, (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "gearman.v1" });
      socket.onmessage = () => socket.close(code, "denied by policy");
      return response;
    });
    const url = `ws://127.0.0.1:${server.addr.port}/gearman`;
    const client = new Client({ servers: [url], token: "t", exceptions: false });
    const worker = new Worker({ servers: [url], token: "t", logger: {} });
    worker.defineFunction("f", () => "x");
    try {
      const err = await client.execute("f", "x").catch((e) => e);
      assert.ok(err instanceof PolicyError, String(err));
      assert.equal(err.closeCode, code);
      const werr = await worker.start().catch((e) => e);
      assert.ok(werr instanceof PolicyError, String(werr));
    } finally {
      await client.close();
      await worker.stop();
      ac.abort();
      await server.finished;
    }
  });
}

// Without --allow-net: a typed ConnectionError that says which flag is missing (not "is it running?"), on both transports.
Deno.test({
  name: "deno: without net permission, client and worker fail with a ConnectionError naming --allow-net",
  permissions: { net: false },
  async fn() {
    for (const server of ["tcp://127.0.0.1:4730", "ws://127.0.0.1:4731/gearman"]) {
      const client = new Client({ servers: [server] });
      const err = await client.execute("f", "x").catch((e) => e);
      assert.ok(err instanceof ConnectionError, `${server}: ${err}`);
      assert.match(err.message, /--allow-net/);
      assert.doesNotMatch(err.message, /is it running/);
      await client.close();
      const worker = new Worker({ servers: [server], logger: {} });
      worker.defineFunction("f", () => "x");
      const werr = await worker.start().catch((e) => e);
      assert.ok(werr instanceof ConnectionError, `${server}: ${werr}`);
      assert.match(werr.message, /--allow-net/);
      await worker.stop();
    }
  },
});

Deno.test("deno: a malformed bridge URL is an InvalidArgumentError at construction, like a malformed tcp address", () => {
  assert.throws(() => new Client({ servers: ["ws://bad host/gearman"] }), InvalidArgumentError);
  assert.throws(() => new Client({ servers: ["tcp://bad host:4730"] }), InvalidArgumentError);
});

// Backpressure both ways: 16 MiB to the worker and 16 MiB back, over Deno TCP and over Deno's WebSocket via the bridge.
for (const kind of ["tcp", "ws"] as const) {
  Deno.test(`deno ${kind}: a 16 MiB payload each way, twice at once`, async () => {
    const size = 16 << 20;
    const gearmand = await startGearmand({ args: ["--threads=0"] });
    const bridge = kind === "ws"
      ? await startBridgeCli(gearmand.address, {
        tokens: { big: { id: "big", roles: ["client", "worker"], submit: ["deno.*"], register: ["deno.*"] } },
        limits: { maxPacketSize: 20 << 20 },
      })
      : undefined;
    const options = bridge ? { servers: [bridge.url], token: "big" } : { servers: [`tcp://${gearmand.address}`] };
    const worker = new Worker({ ...options, concurrency: 2 });
    worker.defineFunction("deno.flip", (job) => job.workload.map((b) => b ^ 0xff));
    const client = new Client(options);
    try {
      await worker.start();
      const input = new Uint8Array(size);
      for (let i = 0; i < size; i++) input[i] = (i * 31 + (i >>> 13)) & 0xff;
      const outs = await Promise.all([0, 1].map(() => client.execute("deno.flip", input, { timeout: 60_000 })));
      for (const out of outs) {
        assert.equal(out.length, size);
        for (let i = 0; i < size; i += 4093) assert.equal(out[i], input[i]! ^ 0xff);
        assert.equal(out[size - 1], input[size - 1]! ^ 0xff);
      }
    } finally {
      await client.close();
      await worker.stop();
      await bridge?.stop();
      await gearmand.stop();
    }
  });
}
