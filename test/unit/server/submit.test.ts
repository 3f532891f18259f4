// Embedded job server, client side: every SUBMIT kind, JOB_CREATED order, priorities, coalescing,
// maxqueue, argument limits, epoch jobs (fake clock), status queries.
import { afterEach, describe, expect, it, vi } from "vitest";
import { PacketType as P } from "../../../src/protocol/packet-types.ts";
import { JobServer } from "../../../src/server/server.ts";
import type { JobServerOptions } from "../../../src/server/options.ts";
import { RawPeer } from "./raw-peer.ts";

let server: JobServer | undefined;
function start(options: JobServerOptions = {}): (count?: number) => RawPeer {
  server = new JobServer({ name: "t", ...options });
  return () => RawPeer.memory(server!);
}
afterEach(() => {
  server?.close();
  server = undefined;
  vi.useRealTimers();
});

describe("job server: submitting", () => {
  it("answers every SUBMIT kind with JOB_CREATED, in submission order", async () => {
    const peer = start();
    const c = peer();
    c.send(P.SUBMIT_JOB, ["f", "", "a"])
      .send(P.SUBMIT_JOB_HIGH, ["f", "", "b"])
      .send(P.SUBMIT_JOB_LOW, ["f", "", "c"])
      .send(P.SUBMIT_JOB_BG, ["f", "", "d"])
      .send(P.SUBMIT_JOB_HIGH_BG, ["f", "", "e"])
      .send(P.SUBMIT_JOB_LOW_BG, ["f", "", "f"])
      .send(P.SUBMIT_JOB_EPOCH, ["f", "", "0", "g"])
      .send(P.SUBMIT_REDUCE_JOB, ["f", "", "r", "", "h"])
      .send(P.SUBMIT_REDUCE_JOB_BACKGROUND, ["f", "", "r", "", "i"]);
    expect(await c.take(9)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `JOB_CREATED H:t:${n}`));
  });

  it("hands out high, then normal, then low, FIFO within each", async () => {
    const peer = start();
    const c = peer();
    c.send(P.SUBMIT_JOB_LOW_BG, ["f", "", "low1"])
      .send(P.SUBMIT_JOB_BG, ["f", "", "normal1"])
      .send(P.SUBMIT_JOB_HIGH_BG, ["f", "", "high1"])
      .send(P.SUBMIT_JOB_LOW_BG, ["f", "", "low2"])
      .send(P.SUBMIT_JOB_HIGH_BG, ["f", "", "high2"])
      .send(P.SUBMIT_REDUCE_JOB_BACKGROUND, ["f", "", "r", "", "reduce"]);
    await c.take(6);
    const w = peer();
    w.send(P.CAN_DO, ["f"]);
    for (let i = 0; i < 7; i++) w.send(P.GRAB_JOB);
    const got = await w.take(7);
    expect(got.map((r) => r.split("|").pop())).toEqual(["high1", "high2", "normal1", "reduce", "low1", "low2", "NO_JOB"]);
  });

  it("serves the worker's most recently registered function first, as gearmand does", async () => {
    const peer = start();
    const c = peer();
    c.send(P.SUBMIT_JOB_HIGH_BG, ["x", "", "xh"]).send(P.SUBMIT_JOB_LOW_BG, ["y", "", "yl"]);
    await c.take(2);
    const w = peer();
    w.send(P.CAN_DO, ["x"]).send(P.CAN_DO, ["y"]).send(P.GRAB_JOB).send(P.GRAB_JOB);
    expect(await w.take(2)).toEqual(["JOB_ASSIGN H:t:2|y|yl", "JOB_ASSIGN H:t:1|x|xh"]);
  });

  it("coalesces on function + unique while queued or running; every listener gets every WORK packet", async () => {
    const peer = start();
    const c1 = peer();
    const c2 = peer();
    const c3 = peer();
    c1.send(P.SUBMIT_JOB, ["f", "same", "first"]);
    expect(await c1.take(1)).toEqual(["JOB_CREATED H:t:1"]);
    c2.send(P.SUBMIT_JOB, ["f", "same", "ignored"]);
    c3.send(P.SUBMIT_JOB_BG, ["f", "same", "ignored too"]).send(P.SUBMIT_JOB, ["g", "same", "other function"]);
    expect(await c2.take(1)).toEqual(["JOB_CREATED H:t:1"]);
    expect(await c3.take(2)).toEqual(["JOB_CREATED H:t:1", "JOB_CREATED H:t:2"]);
    c3.send(P.GET_STATUS_UNIQUE, ["same"]);
    expect(await c3.take(1)).toEqual(["STATUS_RES_UNIQUE same|1|0|0|0|2"]);
    const w = peer();
    w.send(P.CAN_DO, ["f"]).send(P.GRAB_JOB_UNIQ);
    expect(await w.take(1)).toEqual(["JOB_ASSIGN_UNIQ H:t:1|f|same|first"]);
    // Running jobs coalesce too.
    c3.send(P.SUBMIT_JOB, ["f", "same", "late"]);
    expect(await c3.take(1)).toEqual(["JOB_CREATED H:t:1"]);
    w.send(P.WORK_DATA, ["H:t:1", "d"]).send(P.WORK_COMPLETE, ["H:t:1", "done"]);
    for (const c of [c1, c2, c3]) expect(await c.take(2)).toEqual(["WORK_DATA H:t:1|d", "WORK_COMPLETE H:t:1|done"]);
    c1.send(P.GET_STATUS_UNIQUE, ["same"]).send(P.GET_STATUS, ["H:t:1"]);
    // The finished job is gone; the lookup now finds the job of function g with the same unique.
    expect(await c1.take(2)).toEqual(["STATUS_RES_UNIQUE same|1|0|0|0|1", "STATUS_RES H:t:1|0|0|0|0"]);
  });

  it("never coalesces an empty unique; `-` coalesces on the workload", async () => {
    const peer = start();
    const c = peer();
    c.send(P.SUBMIT_JOB_BG, ["f", "", "x"]).send(P.SUBMIT_JOB_BG, ["f", "", "x"]);
    c.send(P.SUBMIT_JOB_BG, ["f", "-", "same"]).send(P.SUBMIT_JOB_BG, ["f", "-", "same"]).send(P.SUBMIT_JOB_BG, ["f", "-", "other"]);
    c.send(P.SUBMIT_JOB_BG, ["f", "-", ""]).send(P.SUBMIT_JOB_BG, ["f", "-", ""]);
    expect(await c.take(7)).toEqual(["1", "2", "3", "3", "4", "5", "6"].map((n) => `JOB_CREATED H:t:${n}`));
  });

  it("a connection that submits the same unique twice gets every packet twice", async () => {
    const peer = start();
    const c = peer();
    c.send(P.SUBMIT_JOB, ["f", "u", "a"]).send(P.SUBMIT_JOB, ["f", "u", "b"]).send(P.GET_STATUS_UNIQUE, ["u"]);
    expect(await c.take(3)).toEqual(["JOB_CREATED H:t:1", "JOB_CREATED H:t:1", "STATUS_RES_UNIQUE u|1|0|0|0|2"]);
    const w = peer();
    w.send(P.CAN_DO, ["f"]).send(P.GRAB_JOB).send(P.WORK_COMPLETE, ["H:t:1", "r"]);
    expect(await c.take(2)).toEqual(["WORK_COMPLETE H:t:1|r", "WORK_COMPLETE H:t:1|r"]);
  });

  it("rejects uniques over 64 bytes, keeps exactly 64 intact, and checks reduce uniques too", async () => {
    const peer = start();
    const c = peer();
    c.send(P.SUBMIT_JOB_BG, ["f", "u".repeat(65), "x"])
      .send(P.SUBMIT_JOB_BG, ["f", "v".repeat(64), "x"])
      .send(P.GET_STATUS_UNIQUE, ["v".repeat(64)])
      .send(P.SUBMIT_REDUCE_JOB_BACKGROUND, ["f", "w".repeat(65), "r", "", "x"])
      .send(P.SUBMIT_REDUCE_JOB_BACKGROUND, ["f", "", "r".repeat(513), "", "x"])
      .send(P.SUBMIT_REDUCE_JOB_BACKGROUND, ["f", "", "r".repeat(512), "", "x"])
      .send(P.GET_STATUS_UNIQUE, ["z".repeat(100)]);
    expect(await c.take(7)).toEqual([
      "ERROR ARGUMENT_TOO_LARGE|Unique value too large",
      "JOB_CREATED H:t:1",
      `STATUS_RES_UNIQUE ${"v".repeat(64)}|1|0|0|0|0`,
      "ERROR ARGUMENT_TOO_LARGE|Unique value too large",
      "ERROR ARGUMENT_TOO_LARGE|Reducer name too large",
      "JOB_CREATED H:t:2",
      `STATUS_RES_UNIQUE ${"z".repeat(100)}|0|0|0|0|0`,
    ]);
  });

  it("enforces maxqueue on queued + running jobs per priority; coalescing bypasses it", async () => {
    const peer = start({ maxQueue: 2 });
    const c = peer();
    c.send(P.SUBMIT_JOB_BG, ["m", "u", "1"]).send(P.SUBMIT_JOB_BG, ["m", "", "2"]).send(P.SUBMIT_JOB_BG, ["m", "", "3"]);
    c.send(P.SUBMIT_JOB, ["m", "u", "coalesced"]);
    expect(await c.take(4)).toEqual(["JOB_CREATED H:t:1", "JOB_CREATED H:t:2", "ERROR QUEUE_ERROR|Job queue is full", "JOB_CREATED H:t:1"]);
    const w = peer();
    w.send(P.CAN_DO, ["m"]).send(P.GRAB_JOB);
    await w.take(1);
    c.send(P.SUBMIT_JOB_HIGH_BG, ["m", "", "4"]);
    expect(await c.take(1)).toEqual(["ERROR QUEUE_ERROR|Job queue is full"]);
    w.send(P.WORK_COMPLETE, ["H:t:1", ""]);
    expect(await c.take(1)).toEqual(["WORK_COMPLETE H:t:1|"]);
    c.send(P.SUBMIT_JOB_HIGH_BG, ["m", "", "5"]);
    expect(await c.take(1)).toEqual(["JOB_CREATED H:t:3"]);
  });

  it("GET_STATUS reports known/running and the last WORK_STATUS, read as gearmand's atoi", async () => {
    const peer = start();
    const c = peer();
    const w = peer();
    c.send(P.GET_STATUS, ["H:t:99"]).send(P.SUBMIT_JOB_BG, ["f", "", "x"]).send(P.GET_STATUS, ["H:t:1"]);
    expect(await c.take(3)).toEqual(["STATUS_RES H:t:99|0|0|0|0", "JOB_CREATED H:t:1", "STATUS_RES H:t:1|1|0|0|0"]);
    w.send(P.CAN_DO, ["f"]).send(P.GRAB_JOB).send(P.WORK_STATUS, ["H:t:1", "-1", "12345678901"]);
    await w.take(1);
    c.send(P.GET_STATUS, ["H:t:1"]);
    expect(await c.take(1)).toEqual(["STATUS_RES H:t:1|1|1|4294967295|1234567890"]);
    w.send(P.WORK_STATUS, ["H:t:1", " 7", "8x"]);
    await w.settle(5);
    c.send(P.GET_STATUS, ["H:t:1"]);
    expect(await c.take(1)).toEqual(["STATUS_RES H:t:1|1|1|7|8"]);
  });

  it("epoch jobs wait for their time and wake sleeping workers when it comes (gearmand does not)", async () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const peer = start();
    const c = peer();
    const w = peer();
    w.send(P.CAN_DO, ["e"]).send(P.PRE_SLEEP);
    await vi.advanceTimersByTimeAsync(5);
    c.send(P.SUBMIT_JOB_EPOCH, ["e", "", String(1_700_000_000 + 3), "later"]).send(P.SUBMIT_JOB_EPOCH, ["e", "", "-5", "now"]);
    await vi.advanceTimersByTimeAsync(5);
    expect(c.drain()).toEqual(["JOB_CREATED H:t:1", "JOB_CREATED H:t:2"]);
    expect(w.drain()).toEqual(["NOOP"]);
    w.send(P.GRAB_JOB).send(P.GRAB_JOB).send(P.PRE_SLEEP);
    await vi.advanceTimersByTimeAsync(5);
    expect(w.drain()).toEqual(["JOB_ASSIGN H:t:2|e|now", "NO_JOB"]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(w.drain()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(w.drain()).toEqual(["NOOP"]);
    w.send(P.GRAB_JOB);
    await vi.advanceTimersByTimeAsync(5);
    expect(w.drain()).toEqual(["JOB_ASSIGN H:t:1|e|later"]);
  });

  it("closes the connection for an epoch that overflows a 64-bit long, as gearmand does", async () => {
    const peer = start();
    const c = peer();
    c.send(P.SUBMIT_JOB_EPOCH, ["e", "", "99999999999999999999999", "x"]);
    expect(await c.take(1)).toEqual(["CLOSED"]);
  });
});
