// Embedded server robustness over TCP: many connections, oversized and huge packets, byte-at-a-time
// delivery, random garbage, half-closed sockets and a client that stops reading streamed WORK_DATA.
// After each case the server still answers a fresh ECHO and holds no connection of the case.
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePacket } from "../../src/protocol/packet.ts";
import { PacketType as P } from "../../src/protocol/packet-types.ts";
import { startServer, type RunningServer } from "../../src/server/node.ts";
import { RawPeer } from "../unit/server/raw-peer.ts";
import { rng } from "../support/random.ts";

let srv: RunningServer;
beforeAll(async () => {
  srv = await startServer({ port: 0, name: "rb", maxOutputBuffer: 4 * 1024 * 1024 });
});
afterAll(async () => {
  await srv?.close();
});

function sock(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port: srv.port, host: "127.0.0.1" }, () => resolve(s));
    s.once("error", reject);
  });
}

function header(type: number, len: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(0x00524551, 0);
  b.writeUInt32BE(type, 4);
  b.writeUInt32BE(len, 8);
  return b;
}

async function alive(): Promise<void> {
  const p = await RawPeer.tcp(srv.port);
  p.send(P.ECHO_REQ, ["alive"]);
  expect(await p.take(1)).toEqual(["ECHO_RES alive"]);
  p.close();
  await p.closedPromise;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 10));
  }
}

function openSockets(): Promise<number> {
  return new Promise((resolve, reject) => srv.listener.getConnections((e, n) => (e ? reject(e) : resolve(n))));
}


/** Collects everything a raw socket receives until it closes (or `ms` pass). */
function collect(s: Socket, ms = 3000): Promise<{ bytes: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const t = setTimeout(() => done(false), ms);
    const done = (closed: boolean): void => {
      clearTimeout(t);
      resolve({ bytes: Buffer.concat(parts), closed });
    };
    s.on("data", (d: Buffer) => parts.push(d));
    s.once("close", () => done(true));
  });
}

describe("embedded server robustness", () => {
  it("2,000 connections at once: every one answers ECHO, all are freed after close", async () => {
    const socks = await Promise.all(Array.from({ length: 2000 }, () => sock()));
    const echo = encodePacket(P.ECHO_REQ, ["x"]);
    await Promise.all(
      socks.map(
        (s) =>
          new Promise<void>((resolve) => {
            let got = 0;
            s.on("data", (d: Buffer) => {
              got += d.length;
              if (got >= echo.length) resolve();
            });
            s.write(echo);
          }),
      ),
    );
    expect(srv.server.stats.connections).toBeGreaterThanOrEqual(2000);
    for (const s of socks) s.destroy();
    await until(() => srv.server.stats.connections === 0);
    await alive();
  }, 60_000);

  it("2,000 connections that each announce a 64 MiB body: the server stays up (bodies are not committed memory)", async () => {
    const socks: Socket[] = [];
    for (let i = 0; i < 2000; i++) {
      const s = await sock();
      s.on("error", () => {});
      s.write(Buffer.concat([header(P.ECHO_REQ, 64 * 1024 * 1024), Buffer.alloc(100, 1)]));
      socks.push(s);
    }
    await alive();
    for (const s of socks) s.destroy();
    await until(() => srv.server.stats.connections === 0, 20_000);
  }, 90_000);

  it("a body over maxPacketSize closes at the header; a 64 MiB ECHO round-trips", async () => {
    const s = await sock();
    const got = collect(s);
    s.write(header(P.ECHO_REQ, 64 * 1024 * 1024 + 1));
    expect(await got).toEqual({ bytes: Buffer.alloc(0), closed: true });
    const p = await RawPeer.tcp(srv.port);
    const big = new Uint8Array(64 * 1024 * 1024).fill(0x61);
    p.send(P.ECHO_REQ, [big]);
    const [reply] = await p.take(1, 20_000);
    expect(reply!.length).toBe("ECHO_RES ".length + big.length);
    p.close();
    await p.closedPromise;
  }, 60_000);

  it("byte-at-a-time delivery gives the same replies as one write", async () => {
    const bytes = Buffer.concat([
      Buffer.from(encodePacket(P.ECHO_REQ, ["a\0b"])),
      Buffer.from("status\r\n"),
      Buffer.from(encodePacket(P.SUBMIT_JOB_BG, ["rb-bytes", "u", "data"])),
      Buffer.from(encodePacket(P.GET_STATUS_UNIQUE, ["u"])),
      Buffer.from("show unique jobs\n"),
      Buffer.from(encodePacket(P.GRAB_JOB, [])),
    ]);
    const replies = async (chunked: boolean): Promise<Buffer> => {
      const s = await sock();
      const got = collect(s, 800);
      if (!chunked) s.write(bytes);
      else for (let i = 0; i < bytes.length; i++) {
        s.write(bytes.subarray(i, i + 1));
        await new Promise((r) => setImmediate(r));
      }
      const out = (await got).bytes;
      s.destroy();
      return out;
    };
    // The first run creates the function and the job; later runs see the same state (the job coalesces on its unique).
    await replies(false);
    const whole = await replies(false);
    const bytewise = await replies(true);
    expect(JSON.stringify(bytewise.toString("latin1"))).toBe(JSON.stringify(whole.toString("latin1")));
    expect(whole.length).toBeGreaterThan(40);
  }, 30_000);

  it("random garbage on 200 connections (seed printed on failure) never crashes the server", async () => {
    const seed = Number(process.env.ROBUST_SEED ?? 4242);
    const r = rng(seed);
    const errors: unknown[] = [];
    const g = await startServer({ port: 0, name: "garbage", onError: (e) => errors.push(e) });
    try {
      for (let i = 0; i < 200; i++) {
        const s = await new Promise<Socket>((resolve, reject) => {
          const c = connect({ port: g.port, host: "127.0.0.1" }, () => resolve(c));
          c.once("error", reject);
        });
        s.on("error", () => {});
        const n = 1 + Math.floor(r() * 4000);
        const buf = Buffer.alloc(n);
        for (let k = 0; k < n; k++) buf[k] = Math.floor(r() * 256);
        // Half of them start like a packet, so the garbage reaches the field splitter too.
        if (r() < 0.5 && n >= 12) {
          buf.writeUInt32BE(0x00524551, 0);
          buf.writeUInt32BE(1 + Math.floor(r() * 42), 4);
          buf.writeUInt32BE(Math.min(n - 12, Math.floor(r() * 2 * n)), 8);
        }
        s.write(buf);
        if (r() < 0.3) s.end();
        else setTimeout(() => s.destroy(), 20);
      }
      await until(() => g.server.stats.connections === 0, 10_000);
      const p = await RawPeer.tcp(g.port);
      p.send(P.ECHO_REQ, ["alive"]);
      expect(await p.take(1), `seed ${seed}`).toEqual(["ECHO_RES alive"]);
      p.close();
      await p.closedPromise;
      expect(errors, `seed ${seed}`).toEqual([]);
    } finally {
      await g.close();
    }
  }, 60_000);

  it("half-closed sockets: an admin line sent before FIN is answered; a client that half-closes leaves its job", async () => {
    const a = await sock();
    const got = collect(a);
    a.end("version\r\n");
    const res = await got;
    expect(res.closed).toBe(true);
    expect(res.bytes.toString()).toMatch(/^OK 1\.1\.20\+gearman-sdk\n$/);
    const c = await sock();
    const cgot = collect(c);
    c.end(Buffer.from(encodePacket(P.SUBMIT_JOB, ["rb-half", "", "x"])));
    expect((await cgot).closed).toBe(true);
    await until(() => srv.server.stats.connections === 0);
  }, 30_000);

  it("a client that stops reading streamed WORK_DATA is dropped past maxOutputBuffer; the worker carries on", async () => {
    const c = await sock();
    c.on("error", () => {});
    c.write(encodePacket(P.SUBMIT_JOB, ["rb-stream", "", "x"]));
    await new Promise((r) => setTimeout(r, 50));
    c.pause();
    const w = await RawPeer.tcp(srv.port);
    w.send(P.CAN_DO, ["rb-stream"]).send(P.GRAB_JOB);
    const [assign] = await w.take(1);
    const handle = assign!.split(" ")[1]!.split("|")[0]!;
    const chunk = new Uint8Array(256 * 1024).fill(0x62);
    const closed = new Promise<void>((resolve) => c.once("close", () => resolve()));
    let sent = 0;
    for (; sent < 64 * 1024 * 1024; sent += chunk.length) {
      w.send(P.WORK_DATA, [handle, chunk]);
      if (sent % (4 * 1024 * 1024) === 0) await new Promise((r) => setTimeout(r, 5));
    }
    w.send(P.WORK_COMPLETE, [handle, "done"]).send(P.ECHO_REQ, ["w-alive"]);
    await w.until((r) => r === "ECHO_RES w-alive", 20_000);
    expect(w.drain()).toEqual(["ECHO_RES w-alive"]);
    // Only the worker is left, and the dropped client's socket is gone on the server side too (the
    // transport destroys it 2 s after its FIN when the peer does not read).
    expect(srv.server.stats.connections).toBe(1);
    const deadline = Date.now() + 5000;
    while ((await openSockets()) !== 1) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 50));
    }
    c.resume();
    await closed;
    w.close();
    await w.closedPromise;
    await until(() => srv.server.stats.connections === 0);
  }, 60_000);
});
