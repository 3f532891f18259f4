// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * The admin text protocol of gearmand 1.1.20 (protocol.md §8): command lines out (always CRLF),
 * responses in, parsed into typed values. Pure: no I/O.
 * @module
 */
import { InvalidArgumentError, ProtocolError } from "../errors.ts";
import { concatBytes } from "./bytes.ts";
import { DEFAULT_MAX_PACKET_SIZE } from "./constants.ts";
import type { TextLineReader } from "./decoder.ts";
import type { Packet } from "./packet.ts";

/** One row of `status`. */
export interface FunctionStatus {
  /** Function name. */
  name: string;
  /** Jobs queued plus running (includes cancelled jobs not yet reaped). */
  total: number;
  /** Jobs held by a worker. */
  running: number;
  /** Workers that registered the function. */
  workers: number;
}

/** One row of `prioritystatus` (queued jobs only). */
export interface FunctionPriorityStatus {
  /** Function name. */
  name: string;
  /** Queued high-priority jobs. */
  high: number;
  /** Queued normal-priority jobs. */
  normal: number;
  /** Queued low-priority jobs. */
  low: number;
  /** Workers that registered the function. */
  workers: number;
}

/** One row of `workers`: every connection, clients and admin connections included. */
export interface WorkerInfo {
  /** The server's file descriptor for the connection. */
  fd: number;
  /** The peer's address. */
  ip: string;
  /** The id from SET_CLIENT_ID, or `-` when unset. */
  clientId: string;
  /** Registered functions. */
  functions: string[];
}

/** One row of `show jobs`. */
export interface JobInfo {
  /** Job handle. */
  handle: string;
  /** Times the job was requeued. */
  retries: number;
  /** True when cancelled or abandoned and waiting to be reaped. */
  ignore: boolean;
  /** True for a background, persisted job. */
  queued: boolean;
}

/** How a command's response ends: a list closed by a `.` line, or one line. */
export type AdminResponseShape = "list" | "line";

/** An admin response: the raw lines (list) or the one line, without line endings. */
export interface AdminResponse {
  /** Lines of the response, without the closing `.` of a list. */
  lines: string[];
  /**
   * True when the response is one `ERR …` line. Set by {@link AdminResponseReader}, which tells an `ERR` answer
   * to a list command (CRLF-terminated) from a list row that merely starts with `ERR` (LF-terminated); when
   * unset, a one-line response starting with `ERR ` counts as an error.
   */
  error?: boolean;
}

/** Builds an admin command line with CRLF (a bare LF makes gearmand drop a character). */
export function adminCommandLine(words: readonly string[]): Uint8Array {
  for (const w of words) {
    if (/[\s\0]/.test(w) || w === "") {
      throw new InvalidArgumentError(`admin arguments may not be empty or contain whitespace or NUL: ${JSON.stringify(w)}`);
    }
  }
  return new TextEncoder().encode(`${words.join(" ")}\r\n`);
}

/** The response shape of each command word. */
export function adminShape(command: string): AdminResponseShape {
  const word = command.trim().split(/\s+/)[0]!.toLowerCase();
  return word === "status" || word === "prioritystatus" || word === "workers" || word === "show" ? "list" : "line";
}

/** Longest response line (and so longest partial line buffered) the reader accepts: a `workers` row holds all of a worker's functions. */
export const MAX_ADMIN_RESPONSE_LINE: number = DEFAULT_MAX_PACKET_SIZE;

/**
 * Splits an admin response stream into responses, given the shapes expected in order.
 * A list command answered by a CRLF-terminated line starting with `ERR ` is one line, as gearmand answers
 * `show <unknown>`; list rows end in a bare LF, so a row such as a function named `ERRATA` stays a row.
 */
export class AdminResponseReader {
  /** The start of the current line, in pieces (joined once, when its LF arrives: linear in the line's length). */
  #parts: string[] = [];
  #partLength = 0;
  #lines: string[] = [];
  #decoder = new TextDecoder();
  readonly #maxLine: number;

  /** `maxLine`: the longest line accepted, in UTF-16 code units; longer is a `too_large` ProtocolError. */
  constructor(maxLine: number = MAX_ADMIN_RESPONSE_LINE) {
    this.#maxLine = maxLine;
  }

  /**
   * Feeds text bytes; returns the responses they complete. At the first line of each response it calls
   * `shape(i)`, where `i` counts the responses this call has already completed: with a FIFO of pending
   * commands that is shifted after `push` returns, answer `pending[i]`'s shape.
   */
  push(chunk: Uint8Array, shape: (index: number) => AdminResponseShape | undefined): AdminResponse[] {
    const text = this.#decoder.decode(chunk, { stream: true });
    const out: AdminResponse[] = [];
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf("\n", start)) >= 0) {
      let line = text.slice(start, nl);
      if (this.#parts.length > 0) {
        this.#parts.push(line);
        line = this.#parts.join("");
        this.#parts = [];
        this.#partLength = 0;
      }
      start = nl + 1;
      const crlf = line.endsWith("\r");
      if (crlf) line = line.slice(0, -1);
      if (line.length > this.#maxLine) throw this.#tooLong();
      // Inside a list the shape is known; asking again would name the command after it.
      const expected = this.#lines.length > 0 ? "list" : shape(out.length);
      if (expected === undefined) {
        throw new ProtocolError("bad_admin_response", `unexpected admin text from the server: ${JSON.stringify(line.slice(0, 200))}`);
      }
      if (expected === "line") {
        out.push({ lines: [line], error: line.startsWith("ERR") });
        continue;
      }
      if (this.#lines.length === 0 && crlf && line.startsWith("ERR ")) {
        out.push({ lines: [line], error: true });
        continue;
      }
      if (line === ".") {
        out.push({ lines: this.#lines, error: false });
        this.#lines = [];
        continue;
      }
      this.#lines.push(line);
    }
    if (start < text.length) {
      this.#partLength += text.length - start;
      // One more for the CR that may end it.
      if (this.#partLength > this.#maxLine + 1) throw this.#tooLong();
      this.#parts.push(text.slice(start));
    }
    return out;
  }

  #tooLong(): ProtocolError {
    return new ProtocolError("too_large", `admin response line longer than ${this.#maxLine} characters`);
  }
}

const MAX_TEXT_LINE = 8192;

/**
 * Reads the admin text lines a server receives between binary packets; give it to the decoder as
 * `textLines`. Each line, its CRLF or LF stripped, becomes a packet of type 0 whose one field is the line.
 * @example
 * ```ts
 * const decoder = new PacketDecoder({ expect: "req", textLines: new AdminLineReader() });
 * ```
 */
export class AdminLineReader implements TextLineReader {
  #parts: Uint8Array[] = [];
  #length = 0;

  /** Bytes of the line read so far. */
  get bufferedBytes(): number {
    return this.#length;
  }

  /** Reads from `off` through the end of one line or of the chunk; returns where it stopped. */
  push(chunk: Uint8Array, off: number, out: Packet[]): number {
    const nl = chunk.indexOf(0x0a, off);
    const end = nl < 0 ? chunk.length : nl;
    if (this.#length + end - off > MAX_TEXT_LINE) {
      throw new ProtocolError("too_large", `admin text line longer than ${MAX_TEXT_LINE} bytes`);
    }
    if (nl < 0) {
      this.#parts.push(chunk.slice(off));
      this.#length += end - off;
      return end;
    }
    let line = this.#parts.length === 0 ? chunk.slice(off, nl) : concatBytes([...this.#parts, chunk.subarray(off, nl)]);
    this.#parts = [];
    this.#length = 0;
    if (line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    out.push({ type: 0 as Packet["type"], magic: "req", args: [line] });
    return nl + 1;
  }
}

/** An `ERR …` answer to an admin command. */
export class AdminCommandError extends ProtocolError {
  /** Always `"AdminCommandError"`. */
  override name = "AdminCommandError";
  /** The error word, e.g. `UNKNOWN_JOB`. */
  readonly adminCode: string;
  /** The error of the `ERR <code> <text>` line `line`. */
  constructor(line: string) {
    const rest = line.slice(4);
    const space = rest.indexOf(" ");
    const code = space < 0 ? rest : rest.slice(0, space);
    // gearmand writes '+' for spaces but echoes words verbatim (no %-encoding): "commandfoo%zz".
    const text = space < 0 ? "" : rest.slice(space + 1).replace(/\+/g, " ");
    super("bad_admin_response", `gearmand admin command failed: ${code}${text ? ` (${text})` : ""}`);
    this.adminCode = code;
  }
}

function checkErr(res: AdminResponse): void {
  const first = res.lines[0];
  const error = res.error ?? (res.lines.length === 1 && first!.startsWith("ERR "));
  if (error) throw new AdminCommandError(first ?? "ERR");
}

function num(s: string | undefined): number {
  const n = Number(s);
  return Number.isFinite(n) ? n : 0;
}

/**
 * Splits a row into a leading name and `count` numeric columns, counting the tabs from the right: gearmand
 * prints names verbatim, and a function name may hold a tab.
 */
function row(line: string, count: number): [string, ...number[]] {
  const cols = line.split("\t");
  const nums = cols.length > count ? cols.splice(cols.length - count) : cols.splice(1);
  return [cols.join("\t"), ...Array.from({ length: count }, (_, i) => num(nums[i]))];
}

/** Parses `status`. */
export function parseStatus(res: AdminResponse): FunctionStatus[] {
  checkErr(res);
  return res.lines.map((l) => {
    const [name, total, running, workers] = row(l, 3);
    return { name, total: total!, running: running!, workers: workers! };
  });
}

/** Parses `prioritystatus`. */
export function parsePriorityStatus(res: AdminResponse): FunctionPriorityStatus[] {
  checkErr(res);
  return res.lines.map((l) => {
    const [name, high, normal, low, workers] = row(l, 4);
    return { name, high: high!, normal: normal!, low: low!, workers: workers! };
  });
}

/** Parses `workers`. */
export function parseWorkers(res: AdminResponse): WorkerInfo[] {
  checkErr(res);
  return res.lines.map((l) => {
    // FD and IP come first; the " :" is looked for after them, since an IPv6 address such as ::1 has colons.
    // It is the first " :" followed by a space or the end, since a client id may hold " :" too (`w :1`).
    const [fd, ip = "", ...more] = l.split(" ");
    const rest = more.join(" ");
    const colon = rest.search(/ :(?: |$)/);
    const tail = colon < 0 ? "" : rest.slice(colon + 2);
    return {
      fd: num(fd),
      ip,
      clientId: (colon < 0 ? rest : rest.slice(0, colon)) || "-",
      functions: tail.split(" ").filter((f) => f.length > 0),
    };
  });
}

/** Parses `show jobs`. */
export function parseJobs(res: AdminResponse): JobInfo[] {
  checkErr(res);
  return res.lines.map((l) => {
    const [handle = "", retries, ignore, queued] = l.split("\t");
    return { handle, retries: num(retries), ignore: ignore === "1", queued: queued === "1" };
  });
}

/** Parses `show unique jobs`. */
export function parseUniqueJobs(res: AdminResponse): string[] {
  checkErr(res);
  return res.lines;
}

/** Parses an `OK` or `OK <value>` line; returns the value ("" for a bare OK). Throws on `ERR`. */
export function parseOk(res: AdminResponse): string {
  checkErr(res);
  const line = res.lines[0] ?? "";
  if (!line.startsWith("OK")) throw new ProtocolError("bad_admin_response", `expected OK from gearmand, got ${JSON.stringify(line)}`);
  return line.slice(3);
}
