// Property test: random sequences of client, worker and admin operations, sent as raw packets over
// TCP, give the same transcript on gearmand 1.1.20 and on the embedded server. The generator stays
// clear of the documented differences (see server-differential-bugs.test.ts): no repeated CAN_DO,
// no PRE_SLEEP twice without a grab, clients always ask for exceptions, foreground and background
// submits never share a unique, and nobody joins a job whose client left.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PacketType as P } from "../../src/protocol/packet-types.ts";
import { compare, serverPairTargets, type Scenario, type ScenarioPeer, type Session } from "./server-diff-harness.ts";

const targets = serverPairTargets();

const FG_SUBMITS = [P.SUBMIT_JOB, P.SUBMIT_JOB_HIGH, P.SUBMIT_JOB_LOW, P.SUBMIT_REDUCE_JOB] as const;
const BG_SUBMITS = [P.SUBMIT_JOB_BG, P.SUBMIT_JOB_HIGH_BG, P.SUBMIT_JOB_LOW_BG, P.SUBMIT_REDUCE_JOB_BACKGROUND] as const;
const GRABS = [P.GRAB_JOB, P.GRAB_JOB_UNIQ, P.GRAB_JOB_ALL] as const;
const WORK = [P.WORK_STATUS, P.WORK_DATA, P.WORK_WARNING, P.WORK_COMPLETE, P.WORK_FAIL, P.WORK_EXCEPTION] as const;

type Op =
  | { op: "submit"; client: number; fg: boolean; kind: number; fn: number; unique: number; data: number }
  | { op: "canDo"; worker: number; fn: number }
  | { op: "cantDo"; worker: number; fn: number }
  | { op: "reset"; worker: number }
  | { op: "grab"; worker: number; kind: number }
  | { op: "preSleep"; worker: number }
  | { op: "work"; worker: number; kind: number; handle: number }
  | { op: "status"; client: number; handle: number }
  | { op: "statusUnique"; client: number; fn: number; unique: number }
  | { op: "admin"; command: number }
  | { op: "kill"; role: "client" | "worker"; index: number };

const idx = (n: number): fc.Arbitrary<number> => fc.nat({ max: n - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant("submit" as const), client: idx(2), fg: fc.boolean(), kind: idx(4), fn: idx(2), unique: idx(4), data: idx(3) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("canDo" as const), worker: idx(2), fn: idx(2) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("cantDo" as const), worker: idx(2), fn: idx(2) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("reset" as const), worker: idx(2) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant("grab" as const), worker: idx(2), kind: idx(3) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("preSleep" as const), worker: idx(2) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant("work" as const), worker: idx(2), kind: idx(6), handle: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("status" as const), client: idx(2), handle: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("statusUnique" as const), client: idx(2), fn: idx(2), unique: idx(2) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("admin" as const), command: idx(4) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("kill" as const), role: fc.constantFrom("client" as const, "worker" as const), index: idx(2) }) },
);

/** Turns an operation list into a scenario; the same list drives both servers identically. */
function scenarioOf(ops: Op[]): Scenario {
  return async (s: Session) => {
    const gen = { client: [0, 0], worker: [0, 0] };
    const open = async (role: "client" | "worker", i: number): Promise<ScenarioPeer> => {
      const label = `${role[0]}${i}.${gen[role][i]!++}`;
      const p = await s.peer(label);
      p.send(P.SET_CLIENT_ID, [s.fn(label)]);
      if (role === "client") p.send(P.OPTION_REQ, ["exceptions"]);
      return p;
    };
    const clients = [await open("client", 0), await open("client", 1)];
    const workers = [await open("worker", 0), await open("worker", 1)];
    const admin = await s.peer("admin");
    // Most sequences should involve workers, so each starts with both registered for a function.
    const abilities = [new Set<number>([0]), new Set<number>([1])];
    workers[0]!.send(P.CAN_DO, [s.fn("f0")]);
    workers[1]!.send(P.CAN_DO, [s.fn("f1")]);
    // Whether a PRE_SLEEP may be sent (only after a grab; see the header).
    const mayPreSleep = [true, true];
    const handle = (k: number): string => (k <= s.handles() ? s.h(k) : "H:nowhere:0");
    // Foreground and background submits use disjoint uniques, never shared across functions. A
    // unique a killed client used gets a new version, so nobody joins the job it abandoned (gearmand
    // then never runs it: a documented difference). `-` coalesces on the data, so that is versioned.
    const version = new Map<string, number>();
    const usedBy: Array<Set<string>> = [new Set(), new Set()];
    const unique = (client: number, fn: number, fg: boolean, u: number): string => {
      const base = fg ? ["", "-", `f${fn}.u0`, `f${fn}.u1`][u]! : ["", "", `f${fn}.b0`, `f${fn}.b1`][u]!;
      if (base === "" || base === "-" || !fg) return base === "" || base === "-" ? base : s.fn(base);
      usedBy[client]!.add(base);
      return s.fn(`${base}v${version.get(base) ?? 0}`);
    };
    const dataOf = (client: number, fn: number, u: string, d: number): string => {
      if (u !== "-") return `d${d}`;
      usedBy[client]!.add(`-${fn}`);
      return `d${d}v${version.get(`-${fn}`) ?? 0}`;
    };
    for (const o of ops) {
      switch (o.op) {
        case "submit": {
          const kind = (o.fg ? FG_SUBMITS : BG_SUBMITS)[o.kind]!;
          const u = unique(o.client, o.fn, o.fg, o.unique);
          const args = [s.fn(`f${o.fn}`), u];
          const data = dataOf(o.client, o.fn, u, o.data);
          const reduce = kind === P.SUBMIT_REDUCE_JOB || kind === P.SUBMIT_REDUCE_JOB_BACKGROUND;
          clients[o.client]!.send(kind, reduce ? [...args, s.fn("red"), "", data] : [...args, data]);
          break;
        }
        case "canDo":
          if (abilities[o.worker]!.has(o.fn)) continue;
          abilities[o.worker]!.add(o.fn);
          workers[o.worker]!.send(P.CAN_DO, [s.fn(`f${o.fn}`)]);
          break;
        case "cantDo":
          abilities[o.worker]!.delete(o.fn);
          workers[o.worker]!.send(P.CANT_DO, [s.fn(`f${o.fn}`)]);
          break;
        case "reset":
          abilities[o.worker]!.clear();
          workers[o.worker]!.send(P.RESET_ABILITIES);
          break;
        case "grab":
          mayPreSleep[o.worker] = true;
          workers[o.worker]!.send(GRABS[o.kind]!);
          break;
        case "preSleep":
          if (!mayPreSleep[o.worker]) continue;
          mayPreSleep[o.worker] = false;
          workers[o.worker]!.send(P.PRE_SLEEP);
          break;
        case "work": {
          const kind = WORK[o.kind]!;
          const h = handle(o.handle);
          const args = kind === P.WORK_STATUS ? [h, "1", "4"] : kind === P.WORK_FAIL ? [h] : [h, `r${o.kind}`];
          workers[o.worker]!.send(kind, args);
          break;
        }
        case "status":
          clients[o.client]!.send(P.GET_STATUS, [handle(o.handle)]);
          break;
        case "statusUnique": {
          const base = `f${o.fn}.u${o.unique}`;
          clients[o.client]!.send(P.GET_STATUS_UNIQUE, [s.fn(`${base}v${version.get(base) ?? 0}`)]);
          break;
        }
        case "admin":
          admin.raw(["status", "prioritystatus", "show jobs", "workers"][o.command]!);
          break;
        case "kill":
          // Let the replies to everything sent so far arrive first: gearmand discards output for a
          // peer that half-closes, and that race is not what this test is about.
          await s.settle();
          if (o.role === "client") {
            for (const key of usedBy[o.index]!) version.set(key, (version.get(key) ?? 0) + 1);
            usedBy[o.index]!.clear();
            await clients[o.index]!.close();
            clients[o.index] = await open("client", o.index);
          } else {
            await workers[o.index]!.close();
            abilities[o.index]!.clear();
            mayPreSleep[o.index] = true;
            workers[o.index] = await open("worker", o.index);
          }
          break;
      }
      await s.settle();
    }
  };
}

describe("embedded server vs gearmand 1.1.20: random operation sequences", () => {
  it("give the same transcript", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 4, maxLength: Number(process.env.SERVER_PROPERTY_MAX_OPS ?? 30) }), async (ops) => {
        const [theirs, ours] = targets();
        const result = await compare(theirs, ours, scenarioOf(ops));
        if (process.env.DUMP_TRANSCRIPTS) console.log(`${JSON.stringify(ops)}\n  ${result.ours.join("\n  ")}`);
        expect(result.ours).toEqual(result.theirs);
      }),
      {
        numRuns: Number(process.env.SERVER_PROPERTY_RUNS ?? 40),
        ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
        interruptAfterTimeLimit: 90_000,
        markInterruptAsFailure: false,
      },
    );
  }, 120_000);
});
