// Embedded job server: the admin text protocol with gearmand 1.1.20's exact formats and line endings.
import { afterEach, describe, expect, it } from "vitest";
import { PacketType as P } from "../../../src/protocol/packet-types.ts";
import { JobServer } from "../../../src/server/server.ts";
import type { JobServerOptions } from "../../../src/server/options.ts";
import { RawPeer } from "./raw-peer.ts";

let server: JobServer | undefined;
function start(options: JobServerOptions = {}): () => RawPeer {
  server = new JobServer({ name: "t", pid: 4242, ...options });
  return () => RawPeer.memory(server!);
}
afterEach(() => {
  server?.close();
  server = undefined;
});

const T = (s: string): string => `TEXT ${JSON.stringify(s)}`;

async function ask(peer: RawPeer, line: string, lines = 1): Promise<string[]> {
  peer.raw(line);
  return await peer.take(lines);
}

describe("job server: admin text protocol", () => {
  it("answers the one-line commands", async () => {
    const a = start()();
    expect(await ask(a, "version")).toEqual([T("OK 1.1.20+gearman-sdk\n")]);
    expect(await ask(a, "VERSION extra")).toEqual([T("OK 1.1.20+gearman-sdk\n")]);
    expect(await ask(a, "getpid")).toEqual([T("OK 4242\n")]);
    expect(await ask(a, "verbose")).toEqual([T("OK INFO\n")]);
    expect(await ask(a, "shutdown")).toEqual([T("ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n")]);
    expect(await ask(a, "")).toEqual([T("ERR UNKNOWN_COMMAND Unknown+server+command\r\n")]);
    expect(await ask(a, "  status")).toEqual([T("ERR UNKNOWN_COMMAND Unknown+server+command\r\n")]);
    expect(await ask(a, "status\tx")).toEqual([T("ERR UNKNOWN_COMMAND Unknown+server+commandstatus\tx\r\n")]);
  });

  it("lists status, prioritystatus, workers, show jobs and show unique jobs", async () => {
    const peer = start();
    const a = peer();
    const c = peer();
    const w = peer();
    c.send(P.SUBMIT_JOB_HIGH_BG, ["f", "u1", "1"]).send(P.SUBMIT_JOB, ["f", "", "2"]).send(P.SUBMIT_JOB_LOW_BG, ["f", "u3", "3"]);
    await c.take(3);
    w.send(P.SET_CLIENT_ID, ["worker-1"]).send(P.CAN_DO, ["f"]).send(P.CAN_DO, ["g"]).send(P.GRAB_JOB);
    await w.take(1);
    expect(await ask(a, "status", 3)).toEqual([T("f\t3\t1\t1\n"), T("g\t0\t0\t1\n"), T(".\n")]);
    expect(await ask(a, "prioritystatus", 3)).toEqual([T("f\t0\t1\t1\t1\n"), T("g\t0\t0\t0\t1\n"), T(".\n")]);
    expect(await ask(a, "workers", 4)).toEqual([T("3 127.0.0.1 worker-1 : g f\n"), T("2 127.0.0.1 - :\n"), T("1 127.0.0.1 - :\n"), T(".\n")]);
    expect(await ask(a, "show jobs", 4)).toEqual([T("H:t:1\t0\t0\t1\n"), T("H:t:2\t0\t0\t0\n"), T("H:t:3\t0\t0\t1\n"), T(".\n")]);
    expect(await ask(a, "show  UNIQUE jobs", 4)).toEqual([T("u1\n"), T("\n"), T("u3\n"), T(".\n")]);
    expect(await ask(a, "show")).toEqual([T("ERR UNKNOWN_COMMAND Unknown+server+commandshow\r\n")]);
    expect(await ask(a, "show jobs x")).toEqual([T("ERR UNKNOWN_SHOW_ARGUMENTS\r\n")]);
    expect(await ask(a, "show foo")).toEqual([T("ERR UNKNOWN_SHOW_ARGUMENTS\r\n")]);
  });

  it("cancel job fails the listeners, answers OK, and drops the job at its next grab", async () => {
    const peer = start();
    const a = peer();
    const c = peer();
    c.send(P.SUBMIT_JOB, ["f", "", "x"]);
    await c.take(1);
    expect(await ask(a, "cancel job H:t:1")).toEqual([T("OK\r\n")]);
    expect(await c.take(1)).toEqual(["WORK_FAIL H:t:1"]);
    expect(await ask(a, "show jobs", 2)).toEqual([T("H:t:1\t0\t1\t0\n"), T(".\n")]);
    expect(await ask(a, "status", 2)).toEqual([T("f\t1\t0\t0\n"), T(".\n")]);
    expect(await ask(a, "cancel job H:t:9")).toEqual([T("ERR UNKNOWN_JOB\r\n")]);
    expect(await ask(a, "cancel job")).toEqual([T("ERR UNKNOWN_COMMAND Unknown+server+commandcancel\r\n")]);
    expect(await ask(a, "cancel foo H:t:1")).toEqual([T("ERR UNKNOWN_ERROR\r\n")]);
    expect(await ask(a, "cancel job H:t:1 extra")).toEqual([T("ERR UNKNOWN_ERROR\r\n")]);
    const w = peer();
    w.send(P.CAN_DO, ["f"]).send(P.GRAB_JOB);
    expect(await w.take(1)).toEqual(["NO_JOB"]);
    expect(await ask(a, "status", 2)).toEqual([T("f\t0\t0\t1\n"), T(".\n")]);
  });

  it("cancel job on a running job detaches its listeners (gearmand keeps forwarding to them)", async () => {
    const peer = start();
    const a = peer();
    const c = peer();
    const w = peer();
    c.send(P.SUBMIT_JOB, ["f", "", "x"]);
    await c.take(1);
    w.send(P.CAN_DO, ["f"]).send(P.GRAB_JOB);
    await w.take(1);
    expect(await ask(a, "cancel job H:t:1")).toEqual([T("OK\r\n")]);
    w.send(P.WORK_DATA, ["H:t:1", "late"]).send(P.WORK_COMPLETE, ["H:t:1", "done"]);
    expect(await c.take(1)).toEqual(["WORK_FAIL H:t:1"]);
    expect(await c.settle(20)).toEqual([]);
    expect(w.drain()).toEqual([]);
  });

  it("a new submit with the unique of a cancelled job gets a job that runs (gearmand drops it and the client hangs)", async () => {
    const peer = start();
    const a = peer();
    const c = peer();
    c.send(P.SUBMIT_JOB, ["f", "k", "x"]);
    await c.take(1);
    await ask(a, "cancel job H:t:1");
    await c.take(1);
    c.send(P.SUBMIT_JOB, ["f", "k", "y"]);
    expect(await c.take(1)).toEqual(["JOB_CREATED H:t:1"]);
    const w = peer();
    w.send(P.CAN_DO, ["f"]).send(P.GRAB_JOB).send(P.WORK_COMPLETE, ["H:t:1", "ok"]);
    expect(await w.take(1)).toEqual(["JOB_ASSIGN H:t:1|f|x"]);
    expect(await c.take(1)).toEqual(["WORK_COMPLETE H:t:1|ok"]);
  });

  it("maxqueue sets one or three limits, resets with no size, ignores unknown functions", async () => {
    const peer = start();
    const a = peer();
    const c = peer();
    expect(await ask(a, "maxqueue")).toEqual([T("ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue\r\n")]);
    expect(await ask(a, "maxqueue nope 1")).toEqual([T("OK\r\n")]);
    expect(await ask(a, "status", 1)).toEqual([T(".\n")]);
    expect(await ask(a, "create function q")).toEqual([T("OK\r\n")]);
    expect(await ask(a, "maxqueue q 1 0 1")).toEqual([T("OK\r\n")]);
    const types = [P.SUBMIT_JOB_HIGH_BG, P.SUBMIT_JOB_BG, P.SUBMIT_JOB_LOW_BG, P.SUBMIT_JOB_HIGH_BG, P.SUBMIT_JOB_BG, P.SUBMIT_JOB_LOW_BG];
    for (const t of types) c.send(t, ["q", "", "x"]);
    const full = "ERROR QUEUE_ERROR|Job queue is full";
    expect(await c.take(6)).toEqual(["JOB_CREATED H:t:1", "JOB_CREATED H:t:2", full, full, "JOB_CREATED H:t:3", full]);
    expect(await ask(a, "maxqueue q 3")).toEqual([T("OK\r\n")]);
    c.send(P.SUBMIT_JOB_LOW_BG, ["q", "", "x"]);
    expect(await c.take(1)).toEqual([full]);
    expect(await ask(a, "maxqueue q")).toEqual([T("OK\r\n")]);
    c.send(P.SUBMIT_JOB_LOW_BG, ["q", "", "x"]);
    expect(await c.take(1)).toEqual(["JOB_CREATED H:t:4"]);
    expect(await ask(a, "maxqueue q 1 2 3 4")).toEqual([T("ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue\r\n")]);
  });

  it("create and drop function", async () => {
    const peer = start();
    const a = peer();
    expect(await ask(a, "create function")).toEqual([T("ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create\r\n")]);
    expect(await ask(a, "create function a b")).toEqual([T("ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create\r\n")]);
    expect(await ask(a, "CREATE FUNCTION zz")).toEqual([T("OK\r\n")]);
    expect(await ask(a, "status", 2)).toEqual([T("zz\t0\t0\t0\n"), T(".\n")]);
    expect(await ask(a, "drop function zz")).toEqual([T("OK\r\n")]);
    expect(await ask(a, "drop function zz")).toEqual([T("ERR function not found\r\n")]);
    expect(await ask(a, "drop")).toEqual([T("ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+drop\r\n")]);
    const w = peer();
    w.send(P.CAN_DO, ["busy"]);
    a.send(P.SUBMIT_JOB_BG, ["queued", "", "x"]);
    await a.take(1);
    expect(await ask(a, "drop function busy")).toEqual([T("ERR there are still connected workers or executing clients\r\n")]);
    // gearmand drops a function with queued jobs and orphans them; they are kept here.
    expect(await ask(a, "drop function queued")).toEqual([T("ERR there are still connected workers or executing clients\r\n")]);
  });

  it("mixes binary packets and text lines on one connection, in order", async () => {
    const a = start()();
    a.raw("version").send(P.ECHO_REQ, ["x"]).raw("verbose");
    expect(await a.take(3)).toEqual([T("OK 1.1.20+gearman-sdk\n"), "ECHO_RES x", T("OK INFO\n")]);
    a.raw(new TextEncoder().encode("version\n"));
    expect(await a.take(1)).toEqual([T("OK 1.1.20+gearman-sdk\n")]);
  });

  it("reads each admin word up to a NUL, as gearmand's C strings do (observed on gearmand 1.1.20)", async () => {
    const peer = start();
    const a = peer();
    expect(await ask(a, "version\0x")).toEqual([T("OK 1.1.20+gearman-sdk\n")]);
    expect(await ask(a, "x\0yz")).toEqual([T("ERR UNKNOWN_COMMAND Unknown+server+commandx\r\n")]);
    expect(await ask(a, "show jobs\0x", 1)).toEqual([T(".\n")]);
    expect(await ask(a, "create function nul\0b")).toEqual([T("OK\r\n")]);
    expect(await ask(a, "status", 2)).toEqual([T("nul\t0\t0\t0\n"), T(".\n")]);
    expect(await ask(a, "drop function nul")).toEqual([T("OK\r\n")]);
  });

  it("prints function names and client ids as C strings, and client ids cut to 127 bytes (observed on gearmand 1.1.20)", async () => {
    const peer = start();
    const a = peer();
    const w = peer();
    w.send(P.SET_CLIENT_ID, ["ab\0cd"]).send(P.CAN_DO, ["nf\0x"]);
    const v = peer();
    v.send(P.SET_CLIENT_ID, ["x".repeat(300)]);
    const e = peer();
    e.send(P.SET_CLIENT_ID, [""]);
    await w.settle(20);
    expect(await ask(a, "workers", 5)).toEqual([
      T("4 127.0.0.1  :\n"),
      T(`3 127.0.0.1 ${"x".repeat(127)} :\n`),
      T("2 127.0.0.1 ab : nf\n"),
      T("1 127.0.0.1 - :\n"),
      T(".\n"),
    ]);
    expect(await ask(a, "status", 2)).toEqual([T("nf\t0\t0\t1\n"), T(".\n")]);
    expect(await ask(a, "prioritystatus", 2)).toEqual([T("nf\t0\t0\t0\t1\n"), T(".\n")]);
  });
});
