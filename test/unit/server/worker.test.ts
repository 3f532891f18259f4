// Embedded job server, worker side: grab types, sleep/wake, WORK_* forwarding and errors, the
// exceptions option, requeue on disconnect / CANT_DO / RESET_ABILITIES / timeout, job retries.
import { afterEach, describe, expect, it, vi } from "vitest";
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
  vi.useRealTimers();
});

describe("job server: workers", () => {
  it("answers each GRAB type with its ASSIGN type; GRAB_JOB_ALL gives JOB_ASSIGN_ALL only for reduce jobs", async () => {
    const peer = start();
    const c = peer();
    c.send(P.SUBMIT_JOB_BG, ["f", "u1", "a"]).send(P.SUBMIT_JOB_BG, ["f", "u2", "b"]);
    c.send(P.SUBMIT_JOB_BG, ["f", "u3", "c"]).send(P.SUBMIT_REDUCE_JOB_BACKGROUND, ["f", "u4", "red", "", "d"]);
    c.send(P.SUBMIT_REDUCE_JOB_BACKGROUND, ["f", "u5", "red", "", "e"]);
    await c.take(5);
    const w = peer();
    w.send(P.CAN_DO, ["f"]).send(P.GRAB_JOB).send(P.GRAB_JOB_UNIQ).send(P.GRAB_JOB_ALL).send(P.GRAB_JOB_ALL).send(P.GRAB_JOB).send(P.GRAB_JOB_ALL);
    expect(await w.take(6)).toEqual([
      "JOB_ASSIGN H:t:1|f|a",
      "JOB_ASSIGN_UNIQ H:t:2|f|u2|b",
      "JOB_ASSIGN_UNIQ H:t:3|f|u3|c",
      "JOB_ASSIGN_ALL H:t:4|f|u4|red|d",
      "JOB_ASSIGN H:t:5|f|e",
      "NO_JOB",
    ]);
  });

  it("sends one NOOP per sleep, to every sleeping worker of the function, and at once when work is waiting", async () => {
    const peer = start();
    const c = peer();
    const w1 = peer();
    const w2 = peer();
    const other = peer();
    w1.send(P.CAN_DO, ["f"]).send(P.PRE_SLEEP);
    w2.send(P.CAN_DO, ["f"]).send(P.PRE_SLEEP);
    other.send(P.CAN_DO, ["g"]).send(P.PRE_SLEEP);
    await w2.settle(5);
    c.send(P.SUBMIT_JOB_BG, ["f", "", "1"]).send(P.SUBMIT_JOB_BG, ["f", "", "2"]);
    await c.take(2);
    expect(await w1.take(1)).toEqual(["NOOP"]);
    expect(await w2.take(1)).toEqual(["NOOP"]);
    expect(await other.settle(10)).toEqual([]);
    expect(w1.drain()).toEqual([]);
    // PRE_SLEEP with work waiting is answered at once.
    w1.send(P.PRE_SLEEP);
    expect(await w1.take(1)).toEqual(["NOOP"]);
    w1.send(P.GRAB_JOB).send(P.GRAB_JOB).send(P.GRAB_JOB).send(P.PRE_SLEEP);
    expect(await w1.take(3)).toEqual(["JOB_ASSIGN H:t:1|f|1", "JOB_ASSIGN H:t:2|f|2", "NO_JOB"]);
    // w2 answered its NOOP with PRE_SLEEP instead of a grab: that is a new sleep, woken again.
    w2.send(P.PRE_SLEEP);
    await w2.settle(5);
    c.send(P.SUBMIT_JOB_BG, ["f", "", "3"]);
    expect(await w1.take(1)).toEqual(["NOOP"]);
    expect(await w2.take(1)).toEqual(["NOOP"]);
  });

  it("limits wake-ups with workerWakeup", async () => {
    const peer = start({ workerWakeup: 1 });
    const ws = [peer(), peer(), peer()];
    for (const w of ws) w.send(P.CAN_DO, ["f"]).send(P.PRE_SLEEP);
    await ws[2]!.settle(5);
    peer().send(P.SUBMIT_JOB_BG, ["f", "", "1"]);
    await new Promise((r) => setTimeout(r, 20));
    expect(ws.flatMap((w) => w.drain())).toEqual(["NOOP"]);
  });

  it("forwards WORK_* to foreground listeners only, and ERRORs WORK_* on a handle the worker does not hold", async () => {
    const peer = start();
    const c = peer();
    const w = peer();
    const intruder = peer();
    c.send(P.SUBMIT_JOB, ["f", "", "x"]);
    await c.take(1);
    w.send(P.CAN_DO, ["f"]).send(P.GRAB_JOB);
    await w.take(1);
    intruder.send(P.WORK_COMPLETE, ["H:t:1", "stolen"]).send(P.WORK_FAIL, ["H:t:1"]).send(P.WORK_STATUS, ["H:t:1", "1", "2"]);
    intruder.send(P.WORK_DATA, ["H:t:1", "d"]).send(P.WORK_WARNING, ["H:t:1", "w"]).send(P.WORK_EXCEPTION, ["H:t:1", "e"]);
    expect(await intruder.take(6)).toEqual([
      "ERROR JOB_NOT_FOUND|Job given in work result not found",
      "ERROR JOB_NOT_FOUND|Job given in work result not found",
      "ERROR JOB_NOT_FOUND|Job given in work result not found",
      "ERROR JOB_NOT_FOUND|Job does not exist on server",
      "ERROR JOB_NOT_FOUND|Job does not exist on server",
      "ERROR JOB_NOT_FOUND|An exception was received for a job that does not exist",
    ]);
    w.send(P.WORK_STATUS, ["H:t:1", "1", "4"]).send(P.WORK_DATA, ["H:t:1", "a\0b"]).send(P.WORK_WARNING, ["H:t:1", "careful"]);
    w.send(P.WORK_COMPLETE, ["H:t:1", "done"]).send(P.WORK_COMPLETE, ["H:t:1", "again"]);
    expect(await c.take(4)).toEqual(["WORK_STATUS H:t:1|1|4", "WORK_DATA H:t:1|a\\0b", "WORK_WARNING H:t:1|careful", "WORK_COMPLETE H:t:1|done"]);
    expect(await w.take(1)).toEqual(["ERROR JOB_NOT_FOUND|Job given in work result not found"]);
    expect(c.drain()).toEqual([]);
  });

  it("forwards WORK_EXCEPTION only with the exceptions option; others get WORK_FAIL without gearmand's trailing NUL", async () => {
    const peer = start();
    const withOpt = peer();
    const without = peer();
    withOpt.send(P.OPTION_REQ, ["EXCEPTIONS"]).send(P.SUBMIT_JOB, ["f", "u", "x"]);
    expect(await withOpt.take(2)).toEqual(["OPTION_RES EXCEPTIONS", "JOB_CREATED H:t:1"]);
    without.send(P.OPTION_REQ, ["fancy"]).send(P.SUBMIT_JOB, ["f", "u", "x"]);
    expect(await without.take(2)).toEqual(["ERROR UNKNOWN_OPTION|Server does not recognize given option", "JOB_CREATED H:t:1"]);
    const w = peer();
    w.send(P.CAN_DO, ["f"]).send(P.GRAB_JOB).send(P.WORK_EXCEPTION, ["H:t:1", "boom"]).send(P.WORK_FAIL, ["H:t:1"]);
    expect(await withOpt.take(1)).toEqual(["WORK_EXCEPTION H:t:1|boom"]);
    expect(await without.take(1)).toEqual(["WORK_FAIL H:t:1"]);
    expect(await w.take(2)).toEqual(["JOB_ASSIGN H:t:1|f|x", "ERROR JOB_NOT_FOUND|Job given in work result not found"]);
  });

  it("turns exceptions on for everyone with the exceptions server option", async () => {
    const peer = start({ exceptions: true });
    const c = peer();
    const w = peer();
    c.send(P.SUBMIT_JOB, ["f", "", "x"]);
    w.send(P.CAN_DO, ["f"]).send(P.GRAB_JOB).send(P.WORK_EXCEPTION, ["H:t:1", "boom"]);
    expect(await c.take(2)).toEqual(["JOB_CREATED H:t:1", "WORK_EXCEPTION H:t:1|boom"]);
  });

  it("requeues a lost worker's jobs at the tail with the same handle and retries+1, newest first", async () => {
    const peer = start();
    const c = peer();
    const admin = peer();
    c.send(P.SUBMIT_JOB, ["h", "", "1"]).send(P.SUBMIT_JOB, ["h", "", "2"]).send(P.SUBMIT_JOB, ["h", "", "3"]);
    await c.take(3);
    const w = peer();
    w.send(P.CAN_DO, ["h"]).send(P.GRAB_JOB).send(P.WORK_STATUS, ["H:t:1", "1", "2"]).send(P.GRAB_JOB);
    await w.take(2);
    expect(await c.take(1)).toEqual(["WORK_STATUS H:t:1|1|2"]);
    w.close();
    await w.closedPromise;
    admin.raw("show jobs");
    expect(await admin.take(4)).toEqual(['TEXT "H:t:1\\t1\\t0\\t0\\n"', 'TEXT "H:t:2\\t1\\t0\\t0\\n"', 'TEXT "H:t:3\\t0\\t0\\t0\\n"', 'TEXT ".\\n"']);
    c.send(P.GET_STATUS, ["H:t:1"]);
    expect(await c.take(1)).toEqual(["STATUS_RES H:t:1|1|0|0|0"]);
    const w2 = peer();
    w2.send(P.CAN_DO, ["h"]).send(P.GRAB_JOB).send(P.GRAB_JOB).send(P.GRAB_JOB).send(P.WORK_COMPLETE, ["H:t:1", "ok"]);
    expect(await w2.take(3)).toEqual(["JOB_ASSIGN H:t:3|h|3", "JOB_ASSIGN H:t:2|h|2", "JOB_ASSIGN H:t:1|h|1"]);
    expect(await c.take(1)).toEqual(["WORK_COMPLETE H:t:1|ok"]);
  });

  it("requeues on CANT_DO (that function only) and RESET_ABILITIES, and wakes sleepers", async () => {
    const peer = start();
    const c = peer();
    c.send(P.SUBMIT_JOB_BG, ["a", "", "1"]).send(P.SUBMIT_JOB_BG, ["b", "", "2"]);
    await c.take(2);
    const sleeper = peer();
    sleeper.send(P.CAN_DO, ["a"]).send(P.CAN_DO, ["b"]).send(P.PRE_SLEEP);
    expect(await sleeper.take(1)).toEqual(["NOOP"]);
    const w = peer();
    w.send(P.CAN_DO, ["a"]).send(P.CAN_DO, ["b"]).send(P.GRAB_JOB).send(P.GRAB_JOB);
    expect(await w.take(2)).toEqual(["JOB_ASSIGN H:t:2|b|2", "JOB_ASSIGN H:t:1|a|1"]);
    sleeper.send(P.GRAB_JOB).send(P.PRE_SLEEP);
    expect(await sleeper.take(1)).toEqual(["NO_JOB"]);
    w.send(P.CANT_DO, ["a"]);
    expect(await sleeper.take(1)).toEqual(["NOOP"]);
    w.send(P.WORK_COMPLETE, ["H:t:1", ""]).send(P.RESET_ABILITIES).send(P.WORK_COMPLETE, ["H:t:2", ""]);
    expect(await w.take(2)).toEqual(["ERROR JOB_NOT_FOUND|Job given in work result not found", "ERROR JOB_NOT_FOUND|Job given in work result not found"]);
    sleeper.send(P.GRAB_JOB).send(P.GRAB_JOB);
    expect(await sleeper.take(2)).toEqual(["JOB_ASSIGN H:t:2|b|2", "JOB_ASSIGN H:t:1|a|1"]);
  });

  it("fails a job to its listeners and drops it when jobRetries is reached", async () => {
    const peer = start({ jobRetries: 2 });
    const c = peer();
    const bg = peer();
    c.send(P.SUBMIT_JOB, ["f", "", "x"]);
    bg.send(P.SUBMIT_JOB_BG, ["f", "", "y"]);
    await c.take(1);
    await bg.take(1);
    // A lost worker's jobs are requeued newest first, so the second run takes them in reverse.
    for (const order of [["1|f|x", "2|f|y"], ["2|f|y", "1|f|x"]]) {
      const w = peer();
      w.send(P.CAN_DO, ["f"]).send(P.GRAB_JOB).send(P.GRAB_JOB);
      expect(await w.take(2)).toEqual(order.map((o) => `JOB_ASSIGN H:t:${o}`));
      w.close();
      await w.closedPromise;
    }
    expect(await c.take(1)).toEqual(["WORK_FAIL H:t:1"]);
    const w = peer();
    w.send(P.CAN_DO, ["f"]).send(P.GRAB_JOB);
    expect(await w.take(1)).toEqual(["NO_JOB"]);
  });

  it("requeues a job whose CAN_DO_TIMEOUT expires (1-999 ms count as 1000), with one timer per job", async () => {
    vi.useFakeTimers();
    const peer = start();
    const c = peer();
    const w = peer();
    c.send(P.SUBMIT_JOB, ["t", "", "1"]);
    w.send(P.CAN_DO_TIMEOUT, ["t", "500"]).send(P.GRAB_JOB);
    await vi.advanceTimersByTimeAsync(5);
    expect(w.drain()).toEqual(["JOB_ASSIGN H:t:1|t|1"]);
    await vi.advanceTimersByTimeAsync(500);
    c.send(P.SUBMIT_JOB, ["t", "", "2"]);
    w.send(P.GRAB_JOB);
    await vi.advanceTimersByTimeAsync(5);
    expect(w.drain()).toEqual(["JOB_ASSIGN H:t:2|t|2"]);
    await vi.advanceTimersByTimeAsync(495);
    // Job 1's own timer fired at 1000 ms; job 2 keeps running.
    w.send(P.GRAB_JOB);
    await vi.advanceTimersByTimeAsync(5);
    expect(w.drain()).toEqual(["JOB_ASSIGN H:t:1|t|1"]);
    await vi.advanceTimersByTimeAsync(500);
    w.send(P.WORK_COMPLETE, ["H:t:2", "late"]).send(P.WORK_COMPLETE, ["H:t:1", "ok"]);
    await vi.advanceTimersByTimeAsync(5);
    expect(w.drain()).toEqual(["ERROR JOB_NOT_FOUND|Job given in work result not found"]);
    expect(c.drain()).toEqual(["JOB_CREATED H:t:1", "JOB_CREATED H:t:2", "WORK_COMPLETE H:t:1|ok"]);
  });

  it("closes the connection when a CAN_DO_TIMEOUT value overflows, as gearmand does", async () => {
    const peer = start();
    const w = peer();
    w.send(P.CAN_DO_TIMEOUT, ["f", "9223372036854775808"]);
    expect(await w.take(1)).toEqual(["CLOSED"]);
  });

  it("registers a function once however often CAN_DO is repeated", async () => {
    const peer = start();
    const w = peer();
    w.send(P.SET_CLIENT_ID, ["my id"]).send(P.CAN_DO, ["a"]).send(P.CAN_DO, ["a"]).send(P.CAN_DO, ["b"]);
    w.raw("workers").raw("status");
    expect(await w.take(5)).toEqual(['TEXT "1 127.0.0.1 my id : b a\\n"', 'TEXT ".\\n"', 'TEXT "a\\t0\\t0\\t1\\n"', 'TEXT "b\\t0\\t0\\t1\\n"', 'TEXT ".\\n"']);
  });
});
