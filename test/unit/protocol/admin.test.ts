// The admin text protocol of gearmand 1.1.20, with the response formats observed in protocol.md §8.
import { describe, expect, it } from "vitest";
import { GearmanError, InvalidArgumentError, ProtocolError } from "../../../src/errors.ts";
import {
  AdminCommandError,
  adminCommandLine,
  type AdminResponse,
  AdminResponseReader,
  type AdminResponseShape,
  adminShape,
  parseJobs,
  parseOk,
  parsePriorityStatus,
  parseStatus,
  parseUniqueJobs,
  parseWorkers,
} from "../../../src/protocol/admin.ts";

const enc = new TextEncoder();

/** Feeds `chunks` to a reader that expects `shapes` in order; returns the responses. */
function read(chunks: readonly Uint8Array[], shapes: readonly AdminResponseShape[]): AdminResponse[] {
  const reader = new AdminResponseReader();
  const queue = [...shapes];
  const out: AdminResponse[] = [];
  for (const c of chunks) {
    // The pattern of a pipelining client: a FIFO shifted once push() returns, indexed by `i` meanwhile.
    const got = reader.push(c, (i) => queue[i]);
    for (const r of got) {
      queue.shift();
      out.push(r);
    }
  }
  return out;
}

function one(text: string, shape: AdminResponseShape): AdminResponse {
  const res = read([enc.encode(text)], [shape]);
  expect(res).toHaveLength(1);
  return res[0]!;
}

function adminError(fn: () => unknown): AdminCommandError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AdminCommandError);
    return err as AdminCommandError;
  }
  throw new Error("expected AdminCommandError, nothing was thrown");
}

describe("adminCommandLine", () => {
  it("joins words with one space and ends with CRLF (a bare LF makes gearmand drop a character)", () => {
    const bytes = adminCommandLine(["create", "function", "lfonly"]);
    expect(new TextDecoder().decode(bytes)).toBe("create function lfonly\r\n");
    expect([...bytes.subarray(-2)]).toEqual([0x0d, 0x0a]);
    expect(new TextDecoder().decode(adminCommandLine(["status"]))).toBe("status\r\n");
    expect(new TextDecoder().decode(adminCommandLine(["maxqueue", "f", "1", "2", "3"]))).toBe("maxqueue f 1 2 3\r\n");
  });

  it("writes UTF-8", () => {
    expect([...adminCommandLine(["drop", "function", "é"])]).toEqual([...enc.encode("drop function é\r\n")]);
  });

  it.each(["a b", "a\tb", "a\nb", "a\r", " ", "\n", "", "a\0b", "a\u00a0b", "a\u2003b"])("rejects %j as an argument", (word) => {
    expect(() => adminCommandLine(["cancel", "job", word])).toThrow(GearmanError);
    expect(() => adminCommandLine([word])).toThrow(/whitespace/);
  });
});

describe("adminShape", () => {
  it.each([
    ["status", "list"],
    ["STATUS", "list"],
    ["prioritystatus", "list"],
    ["workers", "list"],
    ["  workers extra args", "list"],
    ["show jobs", "list"],
    ["show unique jobs", "list"],
    ["show whatever", "list"],
    ["version", "line"],
    ["getpid", "line"],
    ["verbose", "line"],
    ["cancel job H:x:1", "line"],
    ["maxqueue f 1", "line"],
    ["create function f", "line"],
    ["drop function f", "line"],
    ["shutdown", "line"],
  ] as const)("%s → %s", (command, shape) => {
    expect(adminShape(command)).toBe(shape);
  });
});

describe("status", () => {
  it("parses FUNC\\tTOTAL\\tRUNNING\\tWORKERS rows up to the '.' line", () => {
    const res = one("reverse\t5\t1\t2\nidle\t0\t0\t0\nonly-queued\t3\t0\t0\n.\n", "list");
    expect(res.lines).toEqual(["reverse\t5\t1\t2", "idle\t0\t0\t0", "only-queued\t3\t0\t0"]);
    expect(parseStatus(res)).toEqual([
      { name: "reverse", total: 5, running: 1, workers: 2 },
      { name: "idle", total: 0, running: 0, workers: 0 },
      { name: "only-queued", total: 3, running: 0, workers: 0 },
    ]);
  });

  it("an empty server answers just '.'", () => {
    const res = one(".\n", "list");
    expect(res.lines).toEqual([]);
    expect(parseStatus(res)).toEqual([]);
  });

  it("keeps names with spaces and UTF-8", () => {
    expect(parseStatus(one("my func\t1\t0\t1\nfünf\t2\t1\t1\n.\n", "list"))).toEqual([
      { name: "my func", total: 1, running: 0, workers: 1 },
      { name: "fünf", total: 2, running: 1, workers: 1 },
    ]);
  });
});

describe("prioritystatus", () => {
  it("parses FUNC\\tHIGH\\tNORMAL\\tLOW\\tWORKERS", () => {
    expect(parsePriorityStatus(one("reverse\t1\t2\t3\t4\nidle\t0\t0\t0\t0\n.\n", "list"))).toEqual([
      { name: "reverse", high: 1, normal: 2, low: 3, workers: 4 },
      { name: "idle", high: 0, normal: 0, low: 0, workers: 0 },
    ]);
  });
});

describe("workers", () => {
  it("parses FD IP ID : FUNC…, including connections with no functions (ending in ':') and id '-'", () => {
    const text = [
      "38 127.0.0.1 admin-worker : ret",
      "39 127.0.0.1 - :",
      "40 127.0.0.1 w2 : reverse upper split",
      "41 ::1 - : f",
      ".",
      "",
    ].join("\n");
    expect(parseWorkers(one(text, "list"))).toEqual([
      { fd: 38, ip: "127.0.0.1", clientId: "admin-worker", functions: ["ret"] },
      { fd: 39, ip: "127.0.0.1", clientId: "-", functions: [] },
      { fd: 40, ip: "127.0.0.1", clientId: "w2", functions: ["reverse", "upper", "split"] },
      { fd: 41, ip: "::1", clientId: "-", functions: ["f"] },
    ]);
  });
});

describe("show jobs", () => {
  it("parses HANDLE\\tRETRIES\\tIGNORE\\tQUEUED", () => {
    expect(parseJobs(one("H:interop:1\t0\t0\t0\nH:interop:2\t2\t1\t0\nH:interop:3\t0\t0\t1\n.\n", "list"))).toEqual([
      { handle: "H:interop:1", retries: 0, ignore: false, queued: false },
      { handle: "H:interop:2", retries: 2, ignore: true, queued: false },
      { handle: "H:interop:3", retries: 0, ignore: false, queued: true },
    ]);
  });
});

describe("show unique jobs", () => {
  it("keeps empty lines (jobs with an empty unique), including a first one", () => {
    expect(parseUniqueJobs(one("\nu1\n\nsame\n.\n", "list"))).toEqual(["", "u1", "", "same"]);
    expect(parseUniqueJobs(one("\n.\n", "list"))).toEqual([""]);
  });
});

describe("OK lines", () => {
  it.each([
    ["OK\r\n", ""],
    ["OK 1.1.20+ds\n", "1.1.20+ds"],
    ["OK 12345\n", "12345"],
    ["OK INFO\n", "INFO"],
  ])("%j → %j", (text, value) => {
    expect(parseOk(one(text, "line"))).toBe(value);
  });

  it("anything else is a bad_admin_response", () => {
    try {
      parseOk(one("hello\n", "line"));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ProtocolError);
      expect(err).not.toBeInstanceOf(AdminCommandError);
      expect((err as ProtocolError).reason).toBe("bad_admin_response");
    }
  });
});

describe("ERR lines", () => {
  it("ERR UNKNOWN_COMMAND Unknown+server+commandfoo", () => {
    const res = one("ERR UNKNOWN_COMMAND Unknown+server+commandfoo\r\n", "line");
    expect(res.lines).toEqual(["ERR UNKNOWN_COMMAND Unknown+server+commandfoo"]);
    const err = adminError(() => parseOk(res));
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err.reason).toBe("bad_admin_response");
    expect(err.name).toBe("AdminCommandError");
    expect(err.adminCode).toBe("UNKNOWN_COMMAND");
    expect(err.message).toContain("Unknown server commandfoo");
  });

  it("ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue", () => {
    const err = adminError(() =>
      parseOk(one("ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue\r\n", "line")),
    );
    expect(err.adminCode).toBe("INVALID_ARGUMENTS");
    expect(err.message).toContain("An incomplete set of arguments was sent to this command maxqueue");
  });

  it("ERR UNKNOWN_JOB and ERR UNKNOWN_SHOW_ARGUMENTS carry no text", () => {
    expect(adminError(() => parseOk(one("ERR UNKNOWN_JOB\r\n", "line"))).adminCode).toBe("UNKNOWN_JOB");
    expect(adminError(() => parseOk(one("ERR UNKNOWN_ERROR\r\n", "line"))).adminCode).toBe("UNKNOWN_ERROR");
  });

  it("a list command answered with ERR (show <other>) is one line, not a list awaiting '.'", () => {
    const res = one("ERR UNKNOWN_SHOW_ARGUMENTS\r\n", "list");
    expect(res.lines).toEqual(["ERR UNKNOWN_SHOW_ARGUMENTS"]);
    expect(adminError(() => parseUniqueJobs(res)).adminCode).toBe("UNKNOWN_SHOW_ARGUMENTS");
    for (const parse of [parseStatus, parsePriorityStatus, parseWorkers, parseJobs]) {
      expect(() => parse(res)).toThrow(AdminCommandError);
    }
  });

  it("free-text ERR lines of drop function are errors too", () => {
    for (const line of ["ERR there are still connected workers or executing clients", "ERR function not found"]) {
      const err = adminError(() => parseOk(one(`${line}\r\n`, "line")));
      expect(err.message).toContain(line.split(" ")[1]!);
    }
  });

  it("an unknown command word with a '%' in it still gives an AdminCommandError", () => {
    // gearmand echoes the word as it was sent; it is not percent-encoded, so it may not decode.
    for (const word of ["foo%zz", "100%", "%E0%A4%A"]) {
      const err = adminError(() => parseOk(one(`ERR UNKNOWN_COMMAND Unknown+server+command${word}\r\n`, "line")));
      expect(err.adminCode).toBe("UNKNOWN_COMMAND");
      expect(err.message).toContain(`Unknown server command${word}`);
    }
  });
});

describe("AdminResponseReader", () => {
  // A session: status, version, workers, show foo (ERR), cancel job (OK), show unique jobs, shutdown (ERR).
  const session: [AdminResponseShape, string][] = [
    ["list", "fünf\t2\t1\t1\nreverse\t0\t0\t1\n.\n"],
    ["line", "OK 1.1.20+ds\n"],
    ["list", "38 127.0.0.1 admin-worker : ret\n39 127.0.0.1 - :\n.\n"],
    ["list", "ERR UNKNOWN_SHOW_ARGUMENTS\r\n"],
    ["line", "OK\r\n"],
    ["list", "u1\n\n.\n"],
    ["line", "ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n"],
  ];
  const shapes = session.map(([s]) => s);
  const bytes = enc.encode(session.map(([, t]) => t).join(""));
  const expected = [
    ["fünf\t2\t1\t1", "reverse\t0\t0\t1"],
    ["OK 1.1.20+ds"],
    ["38 127.0.0.1 admin-worker : ret", "39 127.0.0.1 - :"],
    ["ERR UNKNOWN_SHOW_ARGUMENTS"],
    ["OK"],
    ["u1", ""],
    ["ERR UNKNOWN_COMMAND Unknown+server+commandshutdown"],
  ];

  it("splits a whole session given in one chunk", () => {
    expect(read([bytes], shapes).map((r) => r.lines)).toEqual(expected);
  });

  it("gives the same responses for a split at every byte (two chunks), including inside 'ü'", () => {
    for (let i = 0; i <= bytes.length; i++) {
      const got = read([bytes.subarray(0, i), bytes.subarray(i)], shapes).map((r) => r.lines);
      expect(got, `split at ${i}`).toEqual(expected);
    }
  });

  it("gives the same responses one byte at a time", () => {
    const chunks = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
    expect(read(chunks, shapes).map((r) => r.lines)).toEqual(expected);
  });

  it("asks for the shape once per response, with the count of responses completed in this call", () => {
    const reader = new AdminResponseReader();
    const asked: number[] = [];
    const shapes: AdminResponseShape[] = ["list", "line", "list", "line"];
    const text = "a\t1\t0\t1\nb\t2\t0\t1\n.\nOK 1.1.20+ds\n.\nOK\r\n";
    const got = reader.push(enc.encode(text), (i) => {
      asked.push(i);
      return shapes[i];
    });
    expect(asked).toEqual([0, 1, 2, 3]);
    expect(got.map((r) => r.lines)).toEqual([["a\t1\t0\t1", "b\t2\t0\t1"], ["OK 1.1.20+ds"], [], ["OK"]]);
  });

  it("a line answer pipelined right behind a list is not swallowed into a new list", () => {
    // status + version sent together; both answers arrive in one TCP segment.
    const got = read([enc.encode("reverse\t0\t0\t1\n.\nOK 1.1.20+ds\n")], ["list", "line"]);
    expect(got.map((r) => r.lines)).toEqual([["reverse\t0\t0\t1"], ["OK 1.1.20+ds"]]);
  });

  it("returns nothing until a response is complete", () => {
    const reader = new AdminResponseReader();
    expect(reader.push(enc.encode("reverse\t0\t0\t1\n"), () => "list")).toEqual([]);
    expect(reader.push(enc.encode("."), () => "list")).toEqual([]);
    expect(reader.push(enc.encode("\n"), () => "list")).toEqual([{ lines: ["reverse\t0\t0\t1"], error: false }]);
  });

  it("text nobody asked for is a bad_admin_response", () => {
    const reader = new AdminResponseReader();
    try {
      reader.push(enc.encode("OK\r\n"), () => undefined);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).reason).toBe("bad_admin_response");
    }
  });
});

describe("audit: rows that look like something else", () => {
  it("a list whose first row starts with ERR (a function ERRATA, a function or unique 'ERR x') is a list, not an error", () => {
    // status + version pipelined: gearmand's rows end in LF, its ERR answers in CRLF.
    const got = read([enc.encode("ERR x\t1\t0\t1\nERRATA\t0\t0\t0\n.\nOK 1.1.20+ds\n")], ["list", "line"]);
    expect(got.map((r) => r.lines)).toEqual([["ERR x\t1\t0\t1", "ERRATA\t0\t0\t0"], ["OK 1.1.20+ds"]]);
    expect(parseStatus(got[0]!)).toEqual([
      { name: "ERR x", total: 1, running: 0, workers: 1 },
      { name: "ERRATA", total: 0, running: 0, workers: 0 },
    ]);
    expect(parseOk(got[1]!)).toBe("1.1.20+ds");
    const one = read([enc.encode("ERRATA\t0\t0\t0\n.\n")], ["list"]);
    expect(parseStatus(one[0]!)).toEqual([{ name: "ERRATA", total: 0, running: 0, workers: 0 }]);
    expect(parseUniqueJobs(read([enc.encode("ERR uniq\n.\n")], ["list"])[0]!)).toEqual(["ERR uniq"]);
  });

  it("a function name with a tab keeps its numbers (columns counted from the right)", () => {
    expect(parseStatus(one("tab\tfn\t2\t1\t1\n.\n", "list"))).toEqual([{ name: "tab\tfn", total: 2, running: 1, workers: 1 }]);
    expect(parsePriorityStatus(one("a\tb\tc\t1\t2\t3\t4\n.\n", "list"))).toEqual([
      { name: "a\tb\tc", high: 1, normal: 2, low: 3, workers: 4 },
    ]);
  });

  it("a client id holding ' :' is kept whole", () => {
    expect(parseWorkers(one("15 127.0.0.1 my id :x : f g\n16 127.0.0.1 w :\n.\n", "list"))).toEqual([
      { fd: 15, ip: "127.0.0.1", clientId: "my id :x", functions: ["f", "g"] },
      { fd: 16, ip: "127.0.0.1", clientId: "w", functions: [] },
    ]);
  });

  it("an argument with whitespace or NUL is an InvalidArgumentError (nothing is sent)", () => {
    expect(() => adminCommandLine(["create", "function", "a b"])).toThrow(InvalidArgumentError);
  });

  it("a line longer than the limit is a too_large ProtocolError, with or without its LF", () => {
    for (const text of ["x".repeat(12), `${"x".repeat(11)}\n`, `${"x".repeat(11)}\r\n`]) {
      const reader = new AdminResponseReader(10);
      try {
        reader.push(enc.encode(text), () => "line");
        expect.unreachable();
      } catch (err) {
        expect((err as ProtocolError).reason).toBe("too_large");
      }
    }
    expect(new AdminResponseReader(10).push(enc.encode(`${"x".repeat(10)}\r\n`), () => "line")).toEqual([{ lines: ["x".repeat(10)], error: false }]);
  });

  it("a long line in many small chunks is read in linear time", () => {
    const reader = new AdminResponseReader();
    const chunk = enc.encode("y".repeat(4096));
    const t0 = performance.now();
    for (let i = 0; i < 2048; i++) expect(reader.push(chunk, () => "line")).toEqual([]); // 8 MiB
    const got = reader.push(enc.encode("\n"), () => "line");
    expect(got[0]!.lines[0]!.length).toBe(8 * 1024 * 1024);
    // Rescanning the whole partial line per chunk took ~6 s here; reading it once takes well under 0.2 s.
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
