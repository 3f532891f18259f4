// Differential tests with real time: CAN_DO_TIMEOUT, --job-retries and epoch jobs on gearmand
// 1.1.20 (started with --job-retries=2) and on the embedded server (jobRetries: 2).
import { describe, expect } from "vitest";
import { PacketType as P } from "../../src/protocol/packet-types.ts";
import { serverPair } from "./server-diff-harness.ts";

const { same, differs } = serverPair(["--job-retries=2"], { jobRetries: 2 });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("embedded server vs gearmand 1.1.20: timers", () => {
  same(
    "CAN_DO_TIMEOUT (500 ms counts as 1 s) requeues the job with the same handle; the late result gets JOB_NOT_FOUND",
    async (s) => {
      const f = s.fn("t");
      const c = await s.peer("c");
      const w = await s.peer("w");
      c.send(P.SUBMIT_JOB, [f, "", "x"]);
      w.send(P.CAN_DO_TIMEOUT, [f, "500"]).send(P.GRAB_JOB);
      await s.settle();
      await sleep(600);
      const early = await s.peer("early");
      early.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
      await s.settle();
      await sleep(1400);
      const w2 = await s.peer("w2");
      w2.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
      await s.settle();
      w.send(P.WORK_COMPLETE, [s.h(1), "late"]);
      await s.settle();
      w2.send(P.WORK_COMPLETE, [s.h(1), "ok"]);
    },
    20_000,
  );

  same(
    "--job-retries: a job whose worker is lost twice fails to its clients and is dropped",
    async (s) => {
      const f = s.fn("f");
      const c = await s.peer("c");
      const a = await s.peer("admin");
      c.send(P.SUBMIT_JOB, [f, "", "fg"]).send(P.SUBMIT_JOB_BG, [f, "", "bg"]);
      await s.settle();
      for (const label of ["w1", "w2"]) {
        const w = await s.peer(label);
        w.send(P.CAN_DO, [f]).send(P.GRAB_JOB).send(P.GRAB_JOB);
        await s.settle();
        await w.close();
        await s.settle();
        a.raw("show jobs");
        await s.settle();
      }
      const w3 = await s.peer("w3");
      w3.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
    },
    20_000,
  );

  differs(
    "a later job on the same worker connection times out too (gearmand's one timer per connection never fires for it)",
    async (s) => {
      const f = s.fn("t");
      const c = await s.peer("c");
      const w = await s.peer("w");
      c.send(P.SUBMIT_JOB, [f, "", "A"]).send(P.SUBMIT_JOB, [f, "", "B"]);
      w.send(P.CAN_DO_TIMEOUT, [f, "1000"]).send(P.GRAB_JOB);
      await s.settle();
      w.send(P.WORK_COMPLETE, [s.h(1), "a"]).send(P.GRAB_JOB);
      await s.settle();
      await sleep(2000);
      const w2 = await s.peer("w2");
      w2.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
    },
    (theirs, ours, p) => {
      expect(theirs.at(-1)).toBe("w2: NO_JOB");
      expect(ours).toEqual([...theirs.slice(0, -1), `w2: JOB_ASSIGN H#2|${p}t|B`]);
    },
    20_000,
  );

  differs(
    "an epoch job wakes sleeping workers when it falls due (gearmand wakes them at submit, when there is nothing to take)",
    async (s) => {
      const f = s.fn("e");
      const w = await s.peer("w");
      const c = await s.peer("c");
      w.send(P.CAN_DO, [f]).send(P.PRE_SLEEP);
      await s.settle();
      const due = Math.floor(Date.now() / 1000) + 2;
      c.send(P.SUBMIT_JOB_EPOCH, [f, "", String(due), "later"]);
      await s.settle();
      c.send(P.GET_STATUS, [s.h(1)]);
      await s.settle();
      s.note("waiting for the epoch");
      await sleep(due * 1000 - Date.now() + 500);
      await s.settle();
      c.send(P.GET_STATUS, [s.h(1)]);
      w.send(P.GRAB_JOB);
    },
    (theirs, ours, p) => {
      const queued = "c: STATUS_RES H#1|1|0|0|0";
      const run = [`w: JOB_ASSIGN H#1|${p}e|later`, queued];
      expect(theirs).toEqual(["w: NOOP", "c: JOB_CREATED H#1", queued, "-- waiting for the epoch", ...run]);
      expect(ours).toEqual(["c: JOB_CREATED H#1", queued, "-- waiting for the epoch", "w: NOOP", ...run]);
    },
    20_000,
  );
});
