// Differences from gearmand 1.1.20 found by the randomized differential test
// (server-differential-random.test.ts), each asserted on both servers.
import { describe, expect } from "vitest";
import { PacketType as P } from "../../src/protocol/packet-types.ts";
import { serverPair } from "./server-diff-harness.ts";

const { differs } = serverPair();

describe("embedded server vs gearmand 1.1.20: differences found by the random scripts", () => {
  for (const running of [false, true]) {
    differs(
      `admin \`cancel job\` twice on a ${running ? "running" : "queued"} job: gearmand sends the clients WORK_FAIL again, the embedded server once`,
      async (s) => {
        const f = s.fn("f");
        const c = await s.peer("c");
        const a = await s.peer("admin");
        c.send(P.SUBMIT_JOB, [f, "", "x"]);
        await s.settle();
        if (running) {
          const w = await s.peer("w");
          w.send(P.CAN_DO, [f]).send(P.GRAB_JOB);
          await s.settle();
        }
        a.raw(`cancel job ${s.h(1)}`);
        await s.settle();
        a.raw(`cancel job ${s.h(1)}`);
        await s.settle();
        a.raw("show jobs");
      },
      (theirs, ours) => {
        const fails = (t: string[]): number => t.filter((l) => l === "c: WORK_FAIL H#1").length;
        expect(fails(theirs)).toBe(2);
        expect(fails(ours)).toBe(1);
        // Everything else is the same: both answer OK twice, and the job stays listed as ignored.
        expect(ours).toEqual(theirs.filter((l, i) => !(l === "c: WORK_FAIL H#1" && theirs.indexOf(l) !== i)));
        expect(ours.filter((l) => l.startsWith("admin:"))).toEqual(['admin: TEXT "OK\\r\\n"', 'admin: TEXT "OK\\r\\n"', `admin: LIST["H#1\\t0\\t1\\t0\\n"]`]);
      },
    );
  }
});
