// The embedded server on TCP: startServer() (as a vitest globalSetup would use it), many clients
// at once, throughput sanity, and the gearman-sdk-server CLI.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PacketType as P } from "../../src/protocol/packet-types.ts";
import { encodePacket } from "../../src/protocol/packet.ts";
import { PacketDecoder } from "../../src/protocol/decoder.ts";
import { tcpConnector } from "../../src/transports/tcp-node.ts";
import { startServer, type RunningServer } from "../../src/server/node.ts";
import { RawPeer } from "../unit/server/raw-peer.ts";

let srv: RunningServer;
beforeAll(async () => {
  srv = await startServer({ port: 0 });
});
afterAll(async () => {
  await srv?.close();
});

describe("startServer", () => {
  it("listens on an ephemeral loopback port and reports it", () => {
    expect(srv.host).toBe("127.0.0.1");
    expect(srv.port).toBeGreaterThan(0);
    expect(srv.address).toBe(`127.0.0.1:${srv.port}`);
    expect(srv.listener.listening).toBe(true);
  });

  it("shows the peer's IP in admin workers and its pid in getpid", async () => {
    const a = await RawPeer.tcp(srv.port);
    a.raw("workers").raw("getpid");
    const got = await a.take(3);
    expect(got[0]).toMatch(/^TEXT "\d+ 127\.0\.0\.1 - :\\n"$/);
    expect(got.slice(1)).toEqual(['TEXT ".\\n"', `TEXT "OK ${process.pid}\\n"`]);
    a.close();
  });

  it("serves a client and a worker end to end with handles named after the host", async () => {
    const c = await RawPeer.tcp(srv.port);
    const w = await RawPeer.tcp(srv.port);
    w.send(P.CAN_DO, ["rev"]).send(P.PRE_SLEEP);
    await w.settle(20);
    c.send(P.SUBMIT_JOB, ["rev", "", "abc"]);
    const [created] = await c.take(1);
    expect(created).toMatch(/^JOB_CREATED H:[\x21-\x7e]+:\d+$/);
    const handle = created!.slice("JOB_CREATED ".length);
    expect(await w.take(1)).toEqual(["NOOP"]);
    w.send(P.GRAB_JOB_UNIQ);
    expect(await w.take(1)).toEqual([`JOB_ASSIGN_UNIQ ${handle}|rev||abc`]);
    w.send(P.WORK_COMPLETE, [handle, "cba"]);
    expect(await c.take(1)).toEqual([`WORK_COMPLETE ${handle}|cba`]);
    c.close();
    w.close();
  });

  it("pipelined foreground ECHO throughput stays high (20k round trips)", async () => {
    const t = await tcpConnector(srv.address)();
    const decoder = new PacketDecoder({ expect: "res" });
    const n = 20_000;
    let got = 0;
    const done = new Promise<void>((resolve) => {
      t.start({
        data: (chunk) => {
          got += decoder.push(chunk).length;
          if (got >= n) resolve();
        },
        drain: () => {},
        closed: () => {},
      });
    });
    const one = encodePacket(P.ECHO_REQ, ["x".repeat(64)]);
    const batch = new Uint8Array(one.length * 1000);
    for (let i = 0; i < 1000; i++) batch.set(one, i * one.length);
    const start = performance.now();
    for (let i = 0; i < n / 1000; i++) t.write(batch.slice());
    await done;
    const perSecond = n / ((performance.now() - start) / 1000);
    t.close();
    // Generous floor: this only catches pathological slowness (per-packet writes or copies).
    expect(perSecond).toBeGreaterThan(50_000);
  });

  it("close() resolves and refuses further connections", async () => {
    const other = await startServer({ port: 0 });
    const c = await RawPeer.tcp(other.port);
    await other.close();
    expect(await c.take(1)).toEqual(["CLOSED"]);
    await expect(tcpConnector(other.address, { connectTimeout: 1000 })()).rejects.toThrow(/cannot connect/);
  });
});

describe("gearman-sdk-server CLI", () => {
  it("prints the bound address and serves until SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gearman-sdk-server-"));
    try {
      const out = join(dir, "cli.mjs");
      await build({ entryPoints: ["src/server/cli.ts"], bundle: true, platform: "node", format: "esm", outfile: out, logLevel: "silent" });
      const child = spawn(process.execPath, [out, "--port", "0", "--job-retries", "2", "--max-queue", "5"], { stdio: ["ignore", "pipe", "pipe"] });
      const line = await new Promise<string>((resolve, reject) => {
        child.stdout.once("data", (d: Buffer) => resolve(d.toString()));
        child.once("exit", (code) => reject(new Error(`exited with ${code}`)));
      });
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(line);
      expect(m).not.toBeNull();
      const a = await RawPeer.tcp(Number(m![1]));
      a.raw("version");
      expect(await a.take(1)).toEqual(['TEXT "OK 1.1.20+gearman-sdk\\n"']);
      const exit = new Promise<number | null>((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      expect(await exit).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects bad arguments with the usage", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gearman-sdk-server-"));
    try {
      const out = join(dir, "cli.mjs");
      await build({ entryPoints: ["src/server/cli.ts"], bundle: true, platform: "node", format: "esm", outfile: out, logLevel: "silent" });
      const child = spawn(process.execPath, [out, "--port", "abc"], { stdio: ["ignore", "pipe", "pipe"] });
      let err = "";
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      expect(code).toBe(2);
      expect(err).toMatch(/--port must be a non-negative integer/);
      expect(err).toMatch(/usage: gearman-sdk-server/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
