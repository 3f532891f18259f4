// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * The admin text protocol, answered byte for byte as gearmand 1.1.20 answers it (protocol.md §8),
 * including its mixed line endings: lists and `OK <value>` end in LF, `OK` and `ERR …` in CRLF.
 * @module
 */
import type { ServerConnection } from "./connection.ts";
import { latin1, latin1Bytes } from "./latin1.ts";
import type { FunctionEntry } from "./model.ts";
import { parseCLong } from "./numbers.ts";
import type { ResolvedServerOptions } from "./options.ts";
import type { JobQueue } from "./queue.ts";

/** What admin commands read and change. */
export interface AdminContext {
  /** The job store. */
  readonly queue: JobQueue;
  /** Live connections, newest first (the order gearmand lists them in). */
  connections(): Iterable<ServerConnection>;
  /** Server options (version, pid, verbose, default maxqueue). */
  readonly options: ResolvedServerOptions;
}

const OK = "OK\r\n";

function invalid(command: string): string {
  return `ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+${command}\r\n`;
}

function unknown(word: string): string {
  return `ERR UNKNOWN_COMMAND Unknown+server+command${word}\r\n`;
}

/** C `atoi` into an int, as gearmand reads maxqueue sizes; 0 or less means no limit. */
function cInt(word: string | undefined): number {
  if (word === undefined) return 0;
  return Math.max(0, Number(BigInt.asIntN(32, parseCLong(latin1Bytes(word)).value)));
}

/** Answers one admin line (without its line ending). */
export function handleAdmin(ctx: AdminContext, conn: ServerConnection, line: Uint8Array): void {
  conn.sendText(answer(ctx, latin1(line)));
}

/** A name as gearmand prints it with `%s`: up to its first NUL. */
function cstr(s: string): string {
  const nul = s.indexOf("\0");
  return nul < 0 ? s : s.slice(0, nul);
}

function answer(ctx: AdminContext, line: string): string {
  // gearmand splits on runs of spaces but keeps an empty first word for leading spaces; it then reads each word
  // as a C string, so a NUL ends the word ("version\0x" is `version`, "create function a\0b" creates `a`).
  const args = line.split(/ +/).map(cstr);
  const word = args[0]!;
  switch (word.toLowerCase()) {
    case "workers":
      return workers(ctx);
    case "status":
      return list(ctx, (f) => `${cstr(f.name)}\t${f.total}\t${f.running}\t${f.workers.size}\n`);
    case "prioritystatus":
      return list(ctx, (f) => `${cstr(f.name)}\t${f.queues[0].size}\t${f.queues[1].size}\t${f.queues[2].size}\t${f.workers.size}\n`);
    case "show":
      return show(ctx, args);
    case "cancel":
      if (args.length < 3) return unknown(word);
      if (args.length !== 3 || args[1]!.toLowerCase() !== "job") return "ERR UNKNOWN_ERROR\r\n";
      return ctx.queue.cancel(args[2]!) ? OK : "ERR UNKNOWN_JOB\r\n";
    case "maxqueue":
      return maxQueue(ctx, args);
    case "create":
      if (args.length !== 3 || args[1]!.toLowerCase() !== "function") return invalid("create");
      ctx.queue.fn(latin1Bytes(args[2]!), true);
      return OK;
    case "drop":
      return drop(ctx, args);
    case "getpid":
      return `OK ${ctx.options.pid}\n`;
    case "version":
      return `OK ${ctx.options.version}\n`;
    case "verbose":
      return `OK ${ctx.options.verbose}\n`;
    default:
      // gearmand 1.1.20 has no `shutdown`, so it lands here too.
      return unknown(word);
  }
}

function list(ctx: AdminContext, row: (f: FunctionEntry) => string): string {
  let out = "";
  for (const f of ctx.queue.functions.values()) out += row(f);
  return `${out}.\n`;
}

function workers(ctx: AdminContext): string {
  let out = "";
  for (const c of ctx.connections()) {
    let fns = "";
    for (const a of c.abilities) fns += ` ${cstr(a.fn.name)}`;
    // gearmand keeps the first 127 bytes of SET_CLIENT_ID and prints names and the id as C strings.
    out += `${c.id} ${c.address} ${c.clientId === undefined ? "-" : cstr(c.clientId.slice(0, 127))} :${fns}\n`;
  }
  return `${out}.\n`;
}

function show(ctx: AdminContext, args: string[]): string {
  if (args.length === 1) return unknown(args[0]!);
  const what = args.slice(1).join(" ").toLowerCase();
  let out = "";
  if (what === "jobs") {
    for (const j of ctx.queue.jobs.values()) {
      out += `${j.handle}\t${j.retries}\t${j.ignore ? 1 : 0}\t${j.queuedFlag ? 1 : 0}\n`;
    }
  } else if (what === "unique jobs") {
    for (const j of ctx.queue.jobs.values()) out += `${latin1(j.unique)}\n`;
  } else {
    return "ERR UNKNOWN_SHOW_ARGUMENTS\r\n";
  }
  return `${out}.\n`;
}

function maxQueue(ctx: AdminContext, args: string[]): string {
  // gearmand drops the connection for more than three sizes; an error line is kinder.
  if (args.length < 2 || args.length > 5) return invalid("maxqueue");
  const fn = ctx.queue.fn(latin1Bytes(args[1]!), false);
  // An unknown function is silently ignored, as gearmand does.
  if (!fn) return OK;
  if (args.length === 2) {
    const d = ctx.options.maxQueue;
    fn.maxQueue = [d, d, d];
  } else if (args.length === 3) {
    const n = cInt(args[2]);
    fn.maxQueue = [n, n, n];
  } else {
    fn.maxQueue = [cInt(args[2]), cInt(args[3]), cInt(args[4])];
  }
  return OK;
}

function drop(ctx: AdminContext, args: string[]): string {
  if (args.length !== 3 || args[1]!.toLowerCase() !== "function") return invalid("drop");
  const fn = ctx.queue.fn(latin1Bytes(args[2]!), false);
  if (!fn) return "ERR function not found\r\n";
  // gearmand also drops a function that still has queued jobs, which orphans them for good.
  if (fn.workers.size > 0 || fn.total > 0) return "ERR there are still connected workers or executing clients\r\n";
  ctx.queue.functions.delete(fn.name);
  return OK;
}
