// Differential tests of the admin text protocol: the same admin lines, sent to gearmand 1.1.20 and to the
// embedded server, get the same answers (normalized as in server-diff-harness.ts).
import { describe } from "vitest";
import { PacketType as P } from "../../src/protocol/packet-types.ts";
import { serverPair } from "./server-diff-harness.ts";

const { same } = serverPair();

describe("embedded server vs gearmand 1.1.20: admin text protocol", () => {
  same("admin words end at a NUL; names and client ids are printed as C strings, client ids cut to 127 bytes", async (s) => {
    const w = await s.peer("w");
    w.send(P.SET_CLIENT_ID, [`${s.fn("ab")}\0cd`]).send(P.CAN_DO, [`${s.fn("nf")}\0x`]).send(P.CAN_DO, [`${s.fn("tab")}\tfn`]);
    const v = await s.peer("v");
    v.send(P.SET_CLIENT_ID, [s.fn("x".repeat(300))]);
    const c = await s.peer("c");
    c.send(P.SUBMIT_JOB_BG, [s.fn("nf"), `ERR ${s.fn("u")}`, "x"]);
    await s.settle();
    const a = await s.peer("admin");
    a.raw("workers").raw("status").raw("prioritystatus").raw("show unique jobs");
    await s.settle();
    a.raw(`create function ${s.fn("nul")}\0b`).raw("status").raw(`drop function ${s.fn("nul")}`).raw("status");
    await s.settle();
    a.raw("verbose\0x").raw(`${s.fn("zz")}\0yy`).raw("show jobs\0x").raw("show\0 unique jobs").raw(`cancel job H:${s.fn("h")}\0x`);
  });

  same("every one-line admin command and its error forms", async (s) => {
    const f = s.fn("f");
    const a = await s.peer("admin");
    for (const line of [
      "verbose", "VERBOSE x", "shutdown", "shutdown graceful", "show", "show foo", "show jobs x", "show unique",
      "cancel", "cancel job", "cancel job a b", "cancel foo bar", `cancel job H:${f}:1`, "maxqueue",
      `maxqueue ${f}`, `maxqueue ${f} 1`, `maxqueue ${f} 1 2`, `maxqueue ${f} 1 2 3`, "create", "create function",
      `create fn ${f}`, `create function ${f} x`, `create function ${f}`, "drop", `drop fn ${f}`, `drop function ${f} x`,
      `drop function ${f}`, `drop function ${f}`, "bogus", "", " ",
    ]) {
      a.raw(line);
    }
  });
});
