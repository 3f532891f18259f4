// Embedded job server: ERROR packets for bad input with gearmand's codes and texts, and which
// inputs close the connection instead.
import { afterEach, describe, expect, it } from "vitest";
import { PacketType as P } from "../../../src/protocol/packet-types.ts";
import { JobServer } from "../../../src/server/server.ts";
import type { JobServerOptions } from "../../../src/server/options.ts";
import { RawPeer } from "./raw-peer.ts";

let server: JobServer | undefined;
function start(options: JobServerOptions = {}): () => RawPeer {
  server = new JobServer({ name: "t", ...options });
  return () => RawPeer.memory(server!);
}
afterEach(() => {
  server?.close();
  server = undefined;
});

function header(magic: number, type: number, len: number): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setUint32(0, magic);
  v.setUint32(4, type);
  v.setUint32(8, len);
  return b;
}

describe("job server: bad input", () => {
  it("echoes ECHO_REQ byte for byte", async () => {
    const c = start()();
    const all = new Uint8Array(256).map((_, i) => i);
    c.send(P.ECHO_REQ, [all]).send(P.ECHO_REQ, [""]);
    const [echo, empty] = await c.take(2);
    expect(echo).toBe(`ECHO_RES ${Array.from(all, (b) => (b === 0 ? "\\0" : String.fromCharCode(b))).join("")}`);
    expect(empty).toBe("ECHO_RES ");
  });

  it("answers a \\0RES packet of a known type with INVALID_MAGIC and stays open", async () => {
    const c = start()();
    c.send(P.ECHO_REQ, ["x"], "res").send(P.NOOP, [], "res").send(P.SUBMIT_JOB, ["f", "", "x"], "res").send(P.ECHO_REQ, ["alive"]);
    expect(await c.take(4)).toEqual([
      "ERROR INVALID_MAGIC|Request magic expected",
      "ERROR INVALID_MAGIC|Request magic expected",
      "ERROR INVALID_MAGIC|Request magic expected",
      "ECHO_RES alive",
    ]);
  });

  it("answers response-only types, UNUSED, ALL_YOURS and SUBMIT_JOB_SCHED with INVALID_COMMAND", async () => {
    const c = start()();
    const types = [P.UNUSED, P.NOOP, P.JOB_CREATED, P.NO_JOB, P.JOB_ASSIGN, P.ECHO_RES, P.ERROR, P.STATUS_RES, P.ALL_YOURS, P.OPTION_RES,
      P.JOB_ASSIGN_UNIQ, P.SUBMIT_JOB_SCHED, P.JOB_ASSIGN_ALL, P.STATUS_RES_UNIQUE];
    for (const t of types) c.send(t, argsFor(t));
    c.send(P.ECHO_REQ, ["alive"]);
    const got = await c.take(types.length + 1);
    expect(got.slice(0, -1)).toEqual(types.map(() => "ERROR INVALID_COMMAND|Command not expected"));
    expect(got.at(-1)).toBe("ECHO_RES alive");
  });

  for (const [label, bytes] of [
    ["type 0 as binary", header(0x00524551, 0, 0)],
    ["type 43", header(0x00524551, 43, 0)],
    ["type 2^31 (crashes gearmand)", header(0x00524551, 0x80000000, 0)],
    ["type 2^32-1 (crashes gearmand)", header(0x00524551, 0xffffffff, 0)],
    ["an unknown magic", header(0x00524558, 16, 0)],
    ["a missing field separator", new Uint8Array([...header(0x00524551, P.SUBMIT_JOB, 5), 0x66, 0x6f, 0x6e, 0x6c, 0x79])],
  ] as const) {
    it(`closes the connection on ${label}, answering nothing from that read`, async () => {
      const c = start()();
      const echo = new Uint8Array([...header(0x00524551, P.ECHO_REQ, 1), 0x78]);
      c.raw(new Uint8Array([...echo, ...bytes]));
      expect(await c.take(1)).toEqual(["CLOSED"]);
    });
  }

  it("closes the connection on a header announcing more than maxPacketSize, before buffering it", async () => {
    const c = start({ maxPacketSize: 1024 })();
    c.send(P.ECHO_REQ, ["x".repeat(1024)]);
    expect((await c.take(1))[0]).toMatch(/^ECHO_RES x+$/);
    c.raw(header(0x00524551, P.ECHO_REQ, 0xffffffff));
    expect(await c.take(1)).toEqual(["CLOSED"]);
  });

  it("keeps the server running for everyone else after a peer is cut off", async () => {
    const peer = start();
    const bad = peer();
    const good = peer();
    bad.raw(header(0x00524551, 99, 0));
    await bad.closedPromise;
    good.send(P.ECHO_REQ, ["ok"]);
    expect(await good.take(1)).toEqual(["ECHO_RES ok"]);
    expect(server!.stats.connections).toBe(1);
  });
});

function argsFor(type: number): string[] {
  const counts: Record<number, number> = { [P.JOB_CREATED]: 1, [P.JOB_ASSIGN]: 3, [P.ECHO_RES]: 1, [P.ERROR]: 2, [P.STATUS_RES]: 5,
    [P.OPTION_RES]: 1, [P.JOB_ASSIGN_UNIQ]: 4, [P.SUBMIT_JOB_SCHED]: 8, [P.JOB_ASSIGN_ALL]: 5, [P.STATUS_RES_UNIQUE]: 6 };
  return Array.from({ length: counts[type] ?? 0 }, (_, i) => `a${i}`);
}
