// Embedded job server: SET_CLIENT_ID keeps only what admin `workers` can show (gearmand's first
// 127 bytes), so a peer cannot pin a 64 MiB id string for the life of its connection.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, expect, it } from "vitest";
import { PacketType as P } from "../../../src/protocol/packet-types.ts";
import { JobServer } from "../../../src/server/server.ts";
import { RawPeer } from "./raw-peer.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let server: JobServer | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

it("SET_CLIENT_ID of 1 MiB on 64 connections retains no more than the 127 bytes `workers` shows", async () => {
  server = new JobServer({ name: "t" });
  const id = "i".repeat(1024 * 1024);
  const peers: RawPeer[] = [];
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 64; i++) {
    const p = RawPeer.memory(server);
    p.send(P.SET_CLIENT_ID, [id]).send(P.ECHO_REQ, ["x"]);
    peers.push(p);
  }
  for (const p of peers) expect(await p.take(1)).toEqual(["ECHO_RES x"]);
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  expect(grown).toBeLessThan(16 * 1024 * 1024);
  peers[0]!.raw("workers");
  const rows = await peers[0]!.take(65);
  expect(rows[0]).toBe(`TEXT ${JSON.stringify(`64 127.0.0.1 ${"i".repeat(127)} :\n`)}`);
});
