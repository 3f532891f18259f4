// Differential tests: the same raw byte sequences sent to gearmand 1.1.20 and to the embedded job
// server must give the same replies (handles normalized, admin lists sorted). Where gearmand is
// buggy the difference is asserted in server-differential-bugs.test.ts instead.
import { describe } from "vitest";
import { PacketType as P } from "../../src/protocol/packet-types.ts";
import { serverPair } from "./server-diff-harness.ts";

const { same } = serverPair();

const ALL_BYTES = new Uint8Array(256).map((_, i) => i);

describe("embedded server vs gearmand 1.1.20: same replies", () => {
  same("ECHO of every byte value", async (s) => {
    const c = await s.peer("c");
    c.send(P.ECHO_REQ, [ALL_BYTES]).send(P.ECHO_REQ, [""]);
  });

  same("every SUBMIT kind gets JOB_CREATED in order", async (s) => {
    const c = await s.peer("c");
    const f = s.fn("f");
    c.send(P.SUBMIT_JOB, [f, "", "a"]).send(P.SUBMIT_JOB_HIGH, [f, "", "b"]).send(P.SUBMIT_JOB_LOW, [f, "", "c"]);
    c.send(P.SUBMIT_JOB_BG, [f, "", "d"]).send(P.SUBMIT_JOB_HIGH_BG, [f, "", "e"]).send(P.SUBMIT_JOB_LOW_BG, [f, "", "f"]);
    c.send(P.SUBMIT_JOB_EPOCH, [f, "", "0", "g"]).send(P.SUBMIT_REDUCE_JOB, [f, "", "r", "", "h"]);
    c.send(P.SUBMIT_REDUCE_JOB_BACKGROUND, [f, "", "r", "", "i"]);
  });

  same("priorities: high, normal, low, FIFO within", async (s) => {
    const c = await s.peer("c");
    const f = s.fn("f");
    c.send(P.SUBMIT_JOB_LOW_BG, [f, "", "low1"]).send(P.SUBMIT_JOB_BG, [f, "", "normal1"]).send(P.SUBMIT_JOB_HIGH_BG, [f, "", "high1"]);
    c.send(P.SUBMIT_JOB_LOW_BG, [f, "", "low2"]).send(P.SUBMIT_JOB_HIGH_BG, [f, "", "high2"]).send(P.SUBMIT_REDUCE_JOB_BACKGROUND, [f, "", "r", "", "red"]);
    await s.settle();
    const w = await s.peer("w");
    w.send(P.CAN_DO, [f]);
    for (let i = 0; i < 7; i++) w.send(P.GRAB_JOB);
  });

  same("the newest registered function is served first", async (s) => {
    const c = await s.peer("c");
    c.send(P.SUBMIT_JOB_HIGH_BG, [s.fn("x"), "", "xh"]).send(P.SUBMIT_JOB_LOW_BG, [s.fn("y"), "", "yl"]);
    await s.settle();
    const w = await s.peer("w");
    w.send(P.CAN_DO, [s.fn("x")]).send(P.CAN_DO, [s.fn("y")]).send(P.GRAB_JOB).send(P.GRAB_JOB).send(P.GRAB_JOB);
  });

  same("GRAB_JOB / _UNIQ / _ALL and their ASSIGN types", async (s) => {
    const c = await s.peer("c");
    const f = s.fn("f");
    c.send(P.SUBMIT_JOB_BG, [f, s.fn("u1"), "a"]).send(P.SUBMIT_JOB_BG, [f, s.fn("u2"), "b"]).send(P.SUBMIT_JOB_BG, [f, s.fn("u3"), "c"]);
    c.send(P.SUBMIT_REDUCE_JOB_BACKGROUND, [f, s.fn("u4"), "red", "", "d"]).send(P.SUBMIT_REDUCE_JOB, [f, s.fn("u5"), "red", "", "e"]);
    await s.settle();
    const w = await s.peer("w");
    w.send(P.CAN_DO, [f]).send(P.GRAB_JOB).send(P.GRAB_JOB_UNIQ).send(P.GRAB_JOB_ALL).send(P.GRAB_JOB_ALL).send(P.GRAB_JOB).send(P.GRAB_JOB_ALL);
  });

  same("PRE_SLEEP / NOOP: at once when work waits, one per sleep, every sleeper woken", async (s) => {
    const f = s.fn("f");
    const w1 = await s.peer("w1");
    const w2 = await s.peer("w2");
    const c = await s.peer("c");
    w1.send(P.CAN_DO, [f]).send(P.PRE_SLEEP);
    w2.send(P.CAN_DO, [f]).send(P.PRE_SLEEP);
    await s.settle();
    c.send(P.SUBMIT_JOB_BG, [f, "", "1"]);
    await s.settle();
    c.send(P.SUBMIT_JOB_BG, [f, "", "2"]);
    await s.settle();
    w1.send(P.PRE_SLEEP);
    await s.settle();
    w1.send(P.GRAB_JOB).send(P.GRAB_JOB).send(P.GRAB_JOB).send(P.PRE_SLEEP);
    await s.settle();
    w2.send(P.GRAB_JOB).send(P.PRE_SLEEP);
    await s.settle();
    c.send(P.SUBMIT_JOB_BG, [f, "", "3"]);
  });

  same("coalescing: foreground + background on one unique, listeners all get WORK_*", async (s) => {
    const f = s.fn("f");
    const u = s.fn("same");
    const c1 = await s.peer("c1");
    const c2 = await s.peer("c2");
    const c3 = await s.peer("c3");
    c1.send(P.SUBMIT_JOB, [f, u, "first"]);
    await s.settle();
    c2.send(P.SUBMIT_JOB, [f, u, "second"]);
    c3.send(P.SUBMIT_JOB_BG, [f, u, "third"]);
    await s.settle();
    c3.send(P.GET_STATUS_UNIQUE, [u]);
    await s.settle();
    const w = await s.peer("w");
    w.send(P.CAN_DO, [f]).send(P.GRAB_JOB_UNIQ);
    await s.settle();
    c3.send(P.SUBMIT_JOB, [f, u, "while running"]);
    await s.settle();
    w.send(P.WORK_STATUS, [s.h(1), "1", "3"]).send(P.WORK_DATA, [s.h(1), "d\0d"]).send(P.WORK_WARNING, [s.h(1), "w"]);
    await s.settle();
    c1.send(P.GET_STATUS, [s.h(1)]).send(P.GET_STATUS_UNIQUE, [u]);
    await s.settle();
    w.send(P.WORK_COMPLETE, [s.h(1), "done"]);
    await s.settle();
    c1.send(P.GET_STATUS, [s.h(1)]).send(P.GET_STATUS_UNIQUE, [u]);
  });

  same("empty uniques never coalesce; `-` coalesces on the workload; one connection twice", async (s) => {
    const f = s.fn("f");
    const c = await s.peer("c");
    c.send(P.SUBMIT_JOB_BG, [f, "", "x"]).send(P.SUBMIT_JOB_BG, [f, "", "x"]);
    c.send(P.SUBMIT_JOB_BG, [f, "-", s.fn("same")]).send(P.SUBMIT_JOB_BG, [f, "-", s.fn("same")]).send(P.SUBMIT_JOB_BG, [f, "-", s.fn("other")]);
    c.send(P.SUBMIT_JOB, [f, s.fn("twice"), "a"]).send(P.SUBMIT_JOB, [f, s.fn("twice"), "b"]).send(P.GET_STATUS_UNIQUE, [s.fn("twice")]);
    await s.settle();
    const w = await s.peer("w");
    w.send(P.CAN_DO, [f]);
    for (let i = 0; i < 5; i++) w.send(P.GRAB_JOB_UNIQ);
    await s.settle();
    w.send(P.WORK_COMPLETE, [s.h(5), "r"]);
  });

  same("WORK_STATUS values as GET_STATUS reports them", async (s) => {
    const f = s.fn("f");
    const c = await s.peer("c");
    const w = await s.peer("w");
    c.send(P.SUBMIT_JOB, [f, "", "x"]);
    w.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
    await s.settle();
    for (const [n, d] of [["-1", "12abc"], ["4294967296", "99999999999"], [" 7", "-5"], ["abc", ""]] as const) {
      w.send(P.WORK_STATUS, [s.h(1), n, d]);
      await s.settle();
      c.send(P.GET_STATUS, [s.h(1)]);
      await s.settle();
    }
  });

  same("OPTION_REQ: exceptions in any case, anything else is UNKNOWN_OPTION", async (s) => {
    const c = await s.peer("c");
    c.send(P.OPTION_REQ, ["exceptions"]).send(P.OPTION_REQ, ["EXCEPTIONS"]).send(P.OPTION_REQ, ["Exceptions"]);
    c.send(P.OPTION_REQ, ["foo"]).send(P.OPTION_REQ, [""]).send(P.OPTION_REQ, ["exceptions "]);
  });

  same("GET_STATUS / GET_STATUS_UNIQUE of unknown jobs", async (s) => {
    const c = await s.peer("c");
    c.send(P.GET_STATUS, ["H:nowhere:1"]).send(P.GET_STATUS_UNIQUE, [s.fn("nothing")]).send(P.GET_STATUS_UNIQUE, ["u".repeat(63)]);
    // A NUL in these one-field packets ends the value, as in gearmand's C strings.
    c.send(P.SUBMIT_JOB_BG, [s.fn("f"), s.fn("k"), "x"]).send(P.GET_STATUS_UNIQUE, [`${s.fn("k")}\0tail`]);
    await s.settle();
    c.send(P.GET_STATUS, [`${s.h(2)}\0tail`]).send(P.GET_STATUS, ["H:nope\0tail"]);
  });

  same("worker disconnect requeues at the tail, same handle, retries+1, newest first", async (s) => {
    const f = s.fn("f");
    const c = await s.peer("c");
    const a = await s.peer("admin");
    c.send(P.SUBMIT_JOB, [f, "", "1"]).send(P.SUBMIT_JOB, [f, "", "2"]).send(P.SUBMIT_JOB, [f, "", "3"]);
    await s.settle();
    const w = await s.peer("w");
    w.send(P.CAN_DO, [f]).send(P.GRAB_JOB).send(P.GRAB_JOB);
    await s.settle();
    w.send(P.WORK_STATUS, [s.h(1), "1", "2"]);
    await s.settle();
    await w.close();
    await s.settle();
    a.raw("show jobs");
    c.send(P.GET_STATUS, [s.h(1)]);
    await s.settle();
    const w2 = await s.peer("w2");
    w2.send(P.CAN_DO, [f]).send(P.GRAB_JOB).send(P.GRAB_JOB).send(P.GRAB_JOB);
    await s.settle();
    w2.send(P.WORK_COMPLETE, [s.h(1), "ok"]);
  });

  same("CANT_DO requeues that function's jobs, RESET_ABILITIES all; the old holder gets JOB_NOT_FOUND", async (s) => {
    const [fa, fb] = [s.fn("a"), s.fn("b")];
    const c = await s.peer("c");
    c.send(P.SUBMIT_JOB_BG, [fa, "", "1"]).send(P.SUBMIT_JOB_BG, [fb, "", "2"]);
    await s.settle();
    const w = await s.peer("w");
    w.send(P.CAN_DO, [fa]).send(P.CAN_DO, [fb]).send(P.GRAB_JOB).send(P.GRAB_JOB);
    await s.settle();
    const sleeper = await s.peer("sleeper");
    sleeper.send(P.CAN_DO, [fa]).send(P.CAN_DO, [fb]).send(P.PRE_SLEEP);
    await s.settle();
    w.send(P.CANT_DO, [fa]);
    await s.settle();
    w.send(P.WORK_COMPLETE, [s.h(1), ""]).send(P.RESET_ABILITIES);
    await s.settle();
    w.send(P.WORK_COMPLETE, [s.h(2), ""]);
    await s.settle();
    sleeper.send(P.GRAB_JOB).send(P.GRAB_JOB).send(P.GRAB_JOB);
  });

  same("maxqueue: QUEUE_ERROR on queued + running, per priority; coalescing bypasses it", async (s) => {
    const f = s.fn("m");
    const a = await s.peer("admin");
    const c = await s.peer("c");
    a.raw(`maxqueue ${f} 2`);
    c.send(P.SUBMIT_JOB_BG, [f, "", "0"]);
    await s.settle();
    a.raw(`maxqueue ${f} 2`);
    await s.settle();
    c.send(P.SUBMIT_JOB_BG, [f, s.fn("u"), "1"]).send(P.SUBMIT_JOB_BG, [f, "", "2"]).send(P.SUBMIT_JOB, [f, s.fn("u"), "3"]);
    await s.settle();
    const w = await s.peer("w");
    w.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
    await s.settle();
    c.send(P.SUBMIT_JOB_HIGH_BG, [f, "", "4"]);
    await s.settle();
    a.raw(`maxqueue ${f} 0 3 1`);
    await s.settle();
    c.send(P.SUBMIT_JOB_HIGH_BG, [f, "", "5"]).send(P.SUBMIT_JOB_BG, [f, "", "6"]).send(P.SUBMIT_JOB_LOW_BG, [f, "", "7"]);
  });

  same("ERROR packets: INVALID_MAGIC, INVALID_COMMAND, JOB_NOT_FOUND texts, ARGUMENT_TOO_LARGE", async (s) => {
    const c = await s.peer("c");
    c.send(P.ECHO_REQ, ["x"], "res").send(P.SUBMIT_JOB, [s.fn("f"), "", "x"], "res");
    c.send(P.UNUSED).send(P.NOOP).send(P.JOB_CREATED, ["H:x:1"]).send(P.NO_JOB).send(P.ALL_YOURS).send(P.ECHO_RES, ["x"]);
    c.send(P.SUBMIT_JOB_SCHED, [s.fn("f"), "", "1", "2", "3", "4", "5", "x"]).send(P.JOB_ASSIGN_ALL, ["h", "f", "u", "r", "d"]);
    await s.settle();
    for (const t of [P.WORK_COMPLETE, P.WORK_DATA, P.WORK_WARNING, P.WORK_EXCEPTION]) c.send(t, ["H:nowhere:1", "x"]);
    c.send(P.WORK_FAIL, ["H:nowhere:1"]).send(P.WORK_STATUS, ["H:nowhere:1", "1", "2"]);
    await s.settle();
    c.send(P.SUBMIT_JOB_BG, [s.fn("f"), "u".repeat(65), "x"]).send(P.SUBMIT_JOB, [s.fn("f"), s.fn("u").padEnd(63, "u"), "x"]);
    c.send(P.ECHO_REQ, ["still open"]);
  });

  for (const [label, type] of [["type 0", 0], ["type 43", 43], ["type 99", 99], ["type 65536", 65536]] as const) {
    same(`closes the connection on ${label}`, async (s) => {
      const c = await s.peer("c");
      const h = new Uint8Array(12);
      new DataView(h.buffer).setUint32(0, 0x00524551);
      new DataView(h.buffer).setUint32(4, type);
      c.raw(h);
    });
  }

  same("closes the connection on an unknown magic, answering nothing from that read", async (s) => {
    const c = await s.peer("c");
    const echo = new Uint8Array([0, 0x52, 0x45, 0x51, 0, 0, 0, 16, 0, 0, 0, 1, 0x78]);
    c.raw(new Uint8Array([...echo, 0, 0x52, 0x45, 0x58, 0, 0, 0, 16, 0, 0, 0, 0]));
  });

  same("closes the connection for CAN_DO_TIMEOUT or epoch values that overflow a long", async (s) => {
    const w = await s.peer("w");
    const c = await s.peer("c");
    w.send(P.CAN_DO_TIMEOUT, [s.fn("t"), "9223372036854775808"]);
    c.send(P.SUBMIT_JOB_EPOCH, [s.fn("e"), "", "-9223372036854775809", "x"]);
  });

  same("foreground client gone: queued job dropped when grabbed, running job's results discarded", async (s) => {
    const f = s.fn("f");
    const a = await s.peer("admin");
    const c1 = await s.peer("c1");
    c1.send(P.SUBMIT_JOB, [f, "", "queued"]);
    await s.settle();
    await c1.close();
    await s.settle();
    a.raw("show jobs").raw("status");
    await s.settle();
    const w = await s.peer("w");
    w.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
    await s.settle();
    const c2 = await s.peer("c2");
    c2.send(P.SUBMIT_JOB, [f, "", "running"]);
    await s.settle();
    w.send(P.GRAB_JOB);
    await s.settle();
    await c2.close();
    await s.settle();
    w.send(P.WORK_DATA, [s.h(2), "d"]).send(P.WORK_COMPLETE, [s.h(2), "r"]).send(P.GET_STATUS, [s.h(2)]);
    await s.settle();
    a.raw("status");
  });

  same("admin: status, prioritystatus, workers, show, cancel of a queued job, create/drop, errors", async (s) => {
    const f = s.fn("f");
    const a = await s.peer("admin");
    const c = await s.peer("c");
    const w = await s.peer("w");
    c.send(P.SUBMIT_JOB_HIGH_BG, [f, s.fn("u1"), "1"]).send(P.SUBMIT_JOB, [f, "", "2"]).send(P.SUBMIT_JOB_LOW_BG, [f, s.fn("u3"), "3"]);
    w.send(P.SET_CLIENT_ID, [s.fn("worker")]).send(P.CAN_DO, [f]).send(P.CAN_DO, [s.fn("g")]);
    await s.settle();
    w.send(P.GRAB_JOB);
    await s.settle();
    for (const cmd of ["status", "prioritystatus", "workers", "show jobs", "show unique jobs", "STATUS extra", "show  jobs"]) {
      a.raw(cmd);
      await s.settle();
    }
    a.raw(`cancel job ${s.h(2)}`);
    await s.settle();
    a.raw("show jobs");
    await s.settle();
    for (const cmd of ["cancel job H:nowhere:1", "cancel job", "cancel foo bar", "cancel job a b", "show", "show foo", "show jobs x",
      "maxqueue", `maxqueue ${s.fn("unknown")} 3`, `create function ${s.fn("made")}`, "create function", `drop function ${s.fn("made")}`,
      `drop function ${s.fn("made")}`, `drop function ${f}`, "drop", "verbose", "bogus words", "", "  status", "shutdown"]) {
      a.raw(cmd);
      await s.settle();
    }
    a.raw("status");
  });

  same("a WORK_* after the job finished gets JOB_NOT_FOUND; WORK_FAIL ends a job for every listener", async (s) => {
    const f = s.fn("f");
    const c = await s.peer("c");
    const w = await s.peer("w");
    c.send(P.SUBMIT_JOB, [f, s.fn("u"), "x"]).send(P.SUBMIT_JOB, [f, s.fn("u"), "x"]);
    w.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
    await s.settle();
    w.send(P.WORK_FAIL, [s.h(1)]);
    await s.settle();
    w.send(P.WORK_COMPLETE, [s.h(1), ""]).send(P.WORK_EXCEPTION, [s.h(1), "x"]);
  });

  same("admin lines of up to five words are answered; a 10 000-byte line closes the connection", async (s) => {
    const a = await s.peer("admin");
    a.raw("w0 w1 w2 w3 w4").raw("verbose x y z q");
    await s.settle();
    const b = await s.peer("long");
    b.raw("x".repeat(10_000));
  });
});
