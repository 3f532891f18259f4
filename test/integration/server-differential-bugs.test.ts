// Differential tests, documented differences: where gearmand 1.1.20 is buggy the embedded server
// does the right thing, and each test asserts exactly what both servers do (the table is in
// /work/notes/server-differences.md).
import { describe, expect, it } from "vitest";
import { PacketType as P } from "../../src/protocol/packet-types.ts";
import { startServer } from "../../src/server/node.ts";
import { startGearmand } from "../support/gearmand.ts";
import { RawPeer } from "../unit/server/raw-peer.ts";
import { patch, serverPair } from "./server-diff-harness.ts";

const { differs, gearmand } = serverPair();

describe("embedded server vs gearmand 1.1.20: documented differences", () => {
  differs(
    "WORK_EXCEPTION to a client without the option: WORK_FAIL without gearmand's trailing NUL",
    async (s) => {
      const f = s.fn("f");
      const withOpt = await s.peer("with");
      const without = await s.peer("without");
      withOpt.send(P.OPTION_REQ, ["exceptions"]).send(P.SUBMIT_JOB, [f, s.fn("u"), "x"]);
      await s.settle();
      without.send(P.SUBMIT_JOB, [f, s.fn("u"), "x"]);
      await s.settle();
      const w = await s.peer("w");
      w.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
      await s.settle();
      w.send(P.WORK_EXCEPTION, [s.h(1), "boom"]);
    },
    (theirs, ours) => {
      expect(theirs.at(-1)).toBe("without: WORK_FAIL H#1\\0");
      expect(ours).toEqual(patch(theirs, "WORK_FAIL H#1\\0", "WORK_FAIL H#1"));
      expect(ours).toContain("with: WORK_EXCEPTION H#1|boom");
    },
  );

  differs(
    "a unique of exactly 64 bytes is kept whole (gearmand stores 63, breaks coalescing and prepends NUL to the workload)",
    async (s) => {
      const c = await s.peer("c");
      const w = await s.peer("w");
      const u = s.fn("").padEnd(64, "v");
      c.send(P.SUBMIT_JOB_BG, [s.fn("f"), u, "x"]).send(P.SUBMIT_JOB_BG, [s.fn("f"), u, "y"]);
      await s.settle();
      w.send(P.CAN_DO, [s.fn("f")]).send(P.GRAB_JOB_UNIQ).send(P.GRAB_JOB_UNIQ);
    },
    (theirs, ours, prefix) => {
      const u63 = prefix.padEnd(63, "v");
      // gearmand also sends the truncated unique with its original length, so a NUL slips in
      // before the workload: the worker receives "\0x" instead of "x".
      expect(theirs).toEqual(["c: JOB_CREATED H#1 ; JOB_CREATED H#2", `w: JOB_ASSIGN_UNIQ H#1|${prefix}f|${u63}|\\0x ; JOB_ASSIGN_UNIQ H#2|${prefix}f|${u63}|\\0y`]);
      expect(ours).toEqual(["c: JOB_CREATED H#1 ; JOB_CREATED H#1", `w: JOB_ASSIGN_UNIQ H#1|${prefix}f|${u63}v|x ; NO_JOB`]);
    },
  );

  differs(
    "GET_STATUS_UNIQUE with a unique over 63 bytes is answered (gearmand closes the connection)",
    async (s) => {
      const c = await s.peer("c");
      c.send(P.GET_STATUS_UNIQUE, ["u".repeat(64)]);
    },
    (theirs, ours) => {
      expect(theirs).toEqual(["c: CLOSED"]);
      expect(ours).toEqual([`c: STATUS_RES_UNIQUE ${"u".repeat(64)}|0|0|0|0|0`]);
    },
  );

  differs(
    "reduce jobs: the unique is checked (gearmand does not), the reducer may exceed 64 bytes (gearmand refuses)",
    async (s) => {
      const c = await s.peer("c");
      c.send(P.SUBMIT_REDUCE_JOB_BACKGROUND, [s.fn("f"), "w".repeat(70), "r", "", "x"]);
      await s.settle();
      c.send(P.SUBMIT_REDUCE_JOB_BACKGROUND, [s.fn("f"), "", "r".repeat(65), "", "x"]);
    },
    (theirs, ours) => {
      expect(theirs).toEqual(["c: JOB_CREATED H#1", "c: ERROR ARGUMENT_TOO_LARGE|Unique value too large"]);
      expect(ours).toEqual(["c: ERROR ARGUMENT_TOO_LARGE|Unique value too large", "c: JOB_CREATED H#1"]);
    },
  );

  differs(
    "cancel job on a running job: its failed listeners get nothing more (gearmand forwards the worker's later WORK_*)",
    async (s) => {
      const f = s.fn("f");
      const a = await s.peer("admin");
      const c = await s.peer("c");
      const w = await s.peer("w");
      c.send(P.SUBMIT_JOB, [f, "", "x"]);
      w.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
      await s.settle();
      a.raw(`cancel job ${s.h(1)}`);
      await s.settle();
      w.send(P.WORK_DATA, [s.h(1), "late"]).send(P.WORK_COMPLETE, [s.h(1), "done"]);
    },
    (theirs, ours) => {
      expect(theirs.slice(-2)).toEqual(["c: WORK_FAIL H#1", "c: WORK_DATA H#1|late ; WORK_COMPLETE H#1|done"]);
      expect(ours).toEqual(theirs.slice(0, -1));
    },
  );

  differs(
    "a submit reusing the unique of a cancelled job gets a job that runs (gearmand drops it; the client waits forever)",
    async (s) => {
      const f = s.fn("f");
      const a = await s.peer("admin");
      const c = await s.peer("c");
      c.send(P.SUBMIT_JOB, [f, s.fn("k"), "x"]);
      await s.settle();
      a.raw(`cancel job ${s.h(1)}`);
      await s.settle();
      c.send(P.SUBMIT_JOB, [f, s.fn("k"), "y"]);
      await s.settle();
      const w = await s.peer("w");
      w.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
      await s.settle();
      w.send(P.WORK_COMPLETE, [s.h(1), "ok"]);
    },
    (theirs, ours) => {
      expect(theirs.slice(-2)).toEqual(["w: NO_JOB", "w: ERROR JOB_NOT_FOUND|Job given in work result not found"]);
      expect(ours.slice(0, -2)).toEqual(theirs.slice(0, -2));
      expect(ours.slice(-2)).toEqual([expect.stringMatching(/^w: JOB_ASSIGN H#1\|s\d+-f\|x$/), "c: WORK_COMPLETE H#1|ok"]);
    },
  );

  differs(
    "a submit reusing the unique of a job whose client left gets a job that runs (gearmand drops it; the client waits forever)",
    async (s) => {
      const f = s.fn("f");
      const gone = await s.peer("gone");
      gone.send(P.SUBMIT_JOB, [f, s.fn("k"), "x"]);
      await s.settle();
      await gone.close();
      const c = await s.peer("c");
      c.send(P.SUBMIT_JOB, [f, s.fn("k"), "y"]).send(P.GET_STATUS_UNIQUE, [s.fn("k")]);
      await s.settle();
      const w = await s.peer("w");
      w.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
      await s.settle();
      w.send(P.WORK_COMPLETE, [s.h(1), "ok"]);
    },
    (theirs, ours, p) => {
      const head = ["gone: JOB_CREATED H#1", "gone: CLOSED", `c: JOB_CREATED H#1 ; STATUS_RES_UNIQUE ${p}k|1|0|0|0|1`];
      expect(theirs).toEqual([...head, "w: NO_JOB", "w: ERROR JOB_NOT_FOUND|Job given in work result not found"]);
      expect(ours).toEqual([...head, `w: JOB_ASSIGN H#1|${p}f|x`, "c: WORK_COMPLETE H#1|ok"]);
    },
  );

  differs(
    "a background submit coalesced onto a foreground job survives that client leaving (gearmand drops the job)",
    async (s) => {
      const f = s.fn("f");
      const fg = await s.peer("fg");
      const bg = await s.peer("bg");
      fg.send(P.SUBMIT_JOB, [f, s.fn("k"), "x"]);
      await s.settle();
      bg.send(P.SUBMIT_JOB_BG, [f, s.fn("k"), "x"]);
      await s.settle();
      await fg.close();
      await s.settle();
      const w = await s.peer("w");
      w.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
    },
    (theirs, ours) => {
      expect(theirs.at(-1)).toBe("w: NO_JOB");
      expect(ours).toEqual([...theirs.slice(0, -1), expect.stringMatching(/^w: JOB_ASSIGN H#1\|s\d+-f\|x$/)]);
    },
  );

  differs(
    "a background job joined by a foreground submit survives that client leaving (gearmand drops the job)",
    async (s) => {
      const f = s.fn("f");
      const bg = await s.peer("bg");
      const fg = await s.peer("fg");
      bg.send(P.SUBMIT_JOB_BG, [f, s.fn("k"), "x"]);
      await s.settle();
      fg.send(P.SUBMIT_JOB, [f, s.fn("k"), "x"]);
      await s.settle();
      await fg.close();
      await s.settle();
      const w = await s.peer("w");
      w.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
    },
    (theirs, ours, p) => {
      expect(theirs.at(-1)).toBe("w: NO_JOB");
      expect(ours).toEqual([...theirs.slice(0, -1), `w: JOB_ASSIGN H#1|${p}f|x`]);
    },
  );

  differs(
    "an admin line of six or more words gets an ERR line (gearmand closes the connection)",
    async (s) => {
      const a = await s.peer("admin");
      a.raw("w0 w1 w2 w3 w4 w5");
    },
    (theirs, ours) => {
      expect(theirs).toEqual(["admin: CLOSED"]);
      expect(ours).toEqual(['admin: TEXT "ERR UNKNOWN_COMMAND Unknown+server+commandw0\\r\\n"']);
    },
  );

  differs(
    "drop function refuses while jobs are queued (gearmand drops it and orphans the jobs)",
    async (s) => {
      const f = s.fn("f");
      const a = await s.peer("admin");
      const c = await s.peer("c");
      c.send(P.SUBMIT_JOB_BG, [f, "", "x"]);
      await s.settle();
      a.raw(`drop function ${f}`);
      await s.settle();
      const w = await s.peer("w");
      w.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
    },
    (theirs, ours) => {
      expect(theirs.slice(1)).toEqual(['admin: TEXT "OK\\r\\n"', "w: NO_JOB"]);
      expect(ours.slice(1)).toEqual(['admin: TEXT "ERR there are still connected workers or executing clients\\r\\n"', expect.stringMatching(/^w: JOB_ASSIGN H#1\|/)]);
    },
  );

  differs(
    "a repeated CAN_DO registers the function once (gearmand lists it twice and counts two workers)",
    async (s) => {
      const a = await s.peer("admin");
      const w = await s.peer("w");
      w.send(P.SET_CLIENT_ID, [s.fn("id")]).send(P.CAN_DO, [s.fn("a")]).send(P.CAN_DO, [s.fn("a")]).send(P.CAN_DO, [s.fn("b")]);
      await s.settle();
      a.raw("workers").raw("status");
    },
    (theirs, ours, p) => {
      expect(theirs).toEqual([`admin: LIST["<fd> 127.0.0.1 ${p}id : ${p}b ${p}a ${p}a\\n"] ; LIST["${p}a\\t0\\t0\\t2\\n", "${p}b\\t0\\t0\\t1\\n"]`]);
      expect(ours).toEqual([`admin: LIST["<fd> 127.0.0.1 ${p}id : ${p}b ${p}a\\n"] ; LIST["${p}a\\t0\\t0\\t1\\n", "${p}b\\t0\\t0\\t1\\n"]`]);
    },
  );

  differs(
    "a worker that answers NOOP with PRE_SLEEP (no grab) is woken again (gearmand never wakes it again)",
    async (s) => {
      const f = s.fn("f");
      const w1 = await s.peer("w1");
      const w2 = await s.peer("w2");
      const c = await s.peer("c");
      w1.send(P.CAN_DO, [f]).send(P.PRE_SLEEP);
      w2.send(P.CAN_DO, [f]).send(P.PRE_SLEEP);
      await s.settle();
      c.send(P.SUBMIT_JOB_BG, [f, "", "1"]);
      await s.settle();
      w1.send(P.GRAB_JOB);
      await s.settle();
      w2.send(P.PRE_SLEEP);
      await s.settle();
      c.send(P.SUBMIT_JOB_BG, [f, "", "2"]);
    },
    (theirs, ours) => {
      expect(theirs.at(-1)).toBe("c: JOB_CREATED H#2");
      expect(ours).toEqual([...theirs.slice(0, -1), "w2: NOOP", "c: JOB_CREATED H#2"]);
    },
  );

  differs(
    "maxqueue with more than three sizes is an error line (gearmand closes the connection)",
    async (s) => {
      const a = await s.peer("admin");
      a.raw(`maxqueue ${s.fn("f")} 1 2 3 4`);
    },
    (theirs, ours) => {
      expect(theirs).toEqual(["admin: CLOSED"]);
      expect(ours).toEqual(['admin: TEXT "ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue\\r\\n"']);
    },
  );

  differs(
    "a WORK_STATUS denominator longer than 11 characters is read (gearmand closes the worker's connection)",
    async (s) => {
      const f = s.fn("f");
      const c = await s.peer("c");
      const w = await s.peer("w");
      c.send(P.SUBMIT_JOB, [f, "", "x"]);
      w.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
      await s.settle();
      w.send(P.WORK_STATUS, [s.h(1), "1", "123456789012"]);
      await s.settle();
      c.send(P.GET_STATUS, [s.h(1)]);
    },
    (theirs, ours) => {
      expect(theirs.slice(2)).toEqual(["w: CLOSED", "c: STATUS_RES H#1|1|0|0|0"]);
      expect(ours.slice(2)).toEqual(["c: WORK_STATUS H#1|1|123456789012", "c: STATUS_RES H#1|1|1|1|1234567890"]);
    },
  );

  differs(
    "admin line ending in a bare LF is read whole (gearmand drops the last character of `create function` names)",
    async (s) => {
      const a = await s.peer("admin");
      a.raw(new TextEncoder().encode(`create function ${s.fn("lfonly")}\n`));
      await s.settle();
      a.raw("status");
    },
    (theirs, ours, p) => {
      expect(theirs).toEqual(['admin: TEXT "OK\\r\\n"', `admin: LIST["${p}lfonl\\t0\\t0\\t0\\n"]`]);
      expect(ours).toEqual(['admin: TEXT "OK\\r\\n"', `admin: LIST["${p}lfonly\\t0\\t0\\t0\\n"]`]);
    },
  );

  differs(
    "a body on a packet that has no fields closes the connection (gearmand ignores the body)",
    async (s) => {
      const w = await s.peer("w");
      w.raw(new Uint8Array([0, 0x52, 0x45, 0x51, 0, 0, 0, P.GRAB_JOB, 0, 0, 0, 2, 0x78, 0x78]));
    },
    (theirs, ours) => {
      expect(theirs).toEqual(["w: NO_JOB"]);
      expect(ours).toEqual(["w: CLOSED"]);
    },
  );

  differs(
    "version and getpid name this server",
    async (s) => {
      const a = await s.peer("admin");
      a.raw("version").raw("getpid");
    },
    (theirs, ours) => {
      expect(theirs).toEqual([`admin: TEXT "OK 1.1.20+ds\\n" ; TEXT "OK ${gearmand().pid}\\n"`]);
      expect(ours).toEqual([`admin: TEXT "OK 1.1.20+gearman-sdk\\n" ; TEXT "OK ${process.pid}\\n"`]);
    },
  );
});


describe("embedded server vs gearmand 1.1.20: crashes", () => {
  it("a packet type of 2^31 or more closes that connection only (it kills gearmand)", async () => {
    const g = await startGearmand({ args: ["--threads=0"], real: true });
    const e = await startServer({ port: 0 });
    try {
      for (const [port, survives] of [[g.port, false], [e.port, true]] as const) {
        const bad = await RawPeer.tcp(port);
        bad.raw(new Uint8Array([0, 0x52, 0x45, 0x51, 0x80, 0, 0, 0, 0, 0, 0, 0]));
        expect(await bad.take(1)).toEqual(["CLOSED"]);
        await new Promise((r) => setTimeout(r, 100));
        const probe = await RawPeer.tcp(port).catch((err: Error) => err);
        if (survives) {
          expect(probe).toBeInstanceOf(RawPeer);
          (probe as RawPeer).send(P.ECHO_REQ, ["alive"]);
          expect(await (probe as RawPeer).take(1)).toEqual(["ECHO_RES alive"]);
          (probe as RawPeer).close();
        } else {
          expect(probe).toBeInstanceOf(Error);
        }
      }
    } finally {
      await Promise.all([g.stop(), e.close()]);
    }
  });
});
