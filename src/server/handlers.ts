// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * What the server does with each binary packet, following gearmand 1.1.20 (protocol.md §2-§7):
 * the same replies, the same ERROR codes and texts, the same silence where gearmand is silent.
 * @module
 */
import { PacketType } from "../protocol/packet-types.ts";
import type { Packet } from "../protocol/packet.ts";
import type { ServerConnection } from "./connection.ts";
import { latin1 } from "./latin1.ts";
import { type Job, Priority, type PriorityValue } from "./model.ts";
import { parseCLong, statusNumber } from "./numbers.ts";
import type { JobQueue } from "./queue.ts";

/** gearmand's limit on uniques: more is ARGUMENT_TOO_LARGE (it also truncates exactly 64 to 63; this server keeps all 64). */
export const MAX_UNIQUE = 64;
/** Limit on reducer names: libgearman's function name limit (gearmand checks reducers against the unique limit by mistake). */
export const MAX_REDUCER = 512;

/** gearmand keeps the first 127 bytes of SET_CLIENT_ID. */
export const MAX_CLIENT_ID = 127;

const EMPTY = new Uint8Array(0);
const ZERO = "0";
const ONE = "1";

/** Per SUBMIT type: priority, foreground?, where the workload is, epoch field, reducer field. */
interface SubmitKind {
  priority: PriorityValue;
  foreground: boolean;
  data: number;
  epoch?: number;
  reducer?: number;
}

const SUBMITS: ReadonlyMap<number, SubmitKind> = new Map<number, SubmitKind>([
  [PacketType.SUBMIT_JOB, { priority: Priority.NORMAL, foreground: true, data: 2 }],
  [PacketType.SUBMIT_JOB_HIGH, { priority: Priority.HIGH, foreground: true, data: 2 }],
  [PacketType.SUBMIT_JOB_LOW, { priority: Priority.LOW, foreground: true, data: 2 }],
  [PacketType.SUBMIT_JOB_BG, { priority: Priority.NORMAL, foreground: false, data: 2 }],
  [PacketType.SUBMIT_JOB_HIGH_BG, { priority: Priority.HIGH, foreground: false, data: 2 }],
  [PacketType.SUBMIT_JOB_LOW_BG, { priority: Priority.LOW, foreground: false, data: 2 }],
  [PacketType.SUBMIT_JOB_EPOCH, { priority: Priority.NORMAL, foreground: false, data: 3, epoch: 2 }],
  [PacketType.SUBMIT_REDUCE_JOB, { priority: Priority.NORMAL, foreground: true, data: 4, reducer: 2 }],
  [PacketType.SUBMIT_REDUCE_JOB_BACKGROUND, { priority: Priority.NORMAL, foreground: false, data: 4, reducer: 2 }],
]);

/**
 * A last field that is echoed back as a first field is cut at its first NUL, as gearmand's C
 * strings are; the reply could not carry the NUL anyway.
 */
function cString(field: Uint8Array): Uint8Array {
  const nul = field.indexOf(0);
  return nul < 0 ? field : field.subarray(0, nul);
}

function error(conn: ServerConnection, code: string, text: string): void {
  conn.send(PacketType.ERROR, [code, text]);
}

/** Handles one binary packet from a peer. */
export function handlePacket(queue: JobQueue, conn: ServerConnection, p: Packet): void {
  if (p.magic !== "req") return error(conn, "INVALID_MAGIC", "Request magic expected");
  const a = p.args;
  switch (p.type) {
    case PacketType.ECHO_REQ:
      return conn.send(PacketType.ECHO_RES, a);
    case PacketType.GRAB_JOB:
    case PacketType.GRAB_JOB_UNIQ:
    case PacketType.GRAB_JOB_ALL:
      return grab(queue, conn, p.type);
    case PacketType.PRE_SLEEP:
      // A new sleep may be woken once more; gearmand only re-arms on a grab, so a worker that
      // answers a NOOP with PRE_SLEEP is never woken again.
      conn.noopSent = false;
      if (queue.hasWork(conn)) {
        conn.noopSent = true;
        conn.send(PacketType.NOOP, []);
      }
      conn.sleeping = true;
      return;
    case PacketType.WORK_STATUS:
    case PacketType.WORK_DATA:
    case PacketType.WORK_WARNING:
    case PacketType.WORK_COMPLETE:
    case PacketType.WORK_FAIL:
    case PacketType.WORK_EXCEPTION:
      return work(queue, conn, p);
    case PacketType.CAN_DO:
      return queue.addAbility(conn, a[0]!, 0);
    case PacketType.CAN_DO_TIMEOUT: {
      const t = parseCLong(a[1]!);
      // gearmand drops the connection when strtol overflows; the peer is broken either way.
      if (t.overflow) return conn.close();
      return queue.addAbility(conn, a[0]!, t.value > 0n ? Number(t.value) : 0);
    }
    case PacketType.CANT_DO:
      return queue.removeAbility(conn, a[0]!);
    case PacketType.RESET_ABILITIES:
      return queue.resetAbilities(conn);
    case PacketType.GET_STATUS:
      return getStatus(queue, conn, cString(a[0]!));
    case PacketType.GET_STATUS_UNIQUE:
      return getStatusUnique(queue, conn, cString(a[0]!));
    case PacketType.OPTION_REQ:
      if (latin1(a[0]!).toLowerCase() !== "exceptions") {
        return error(conn, "UNKNOWN_OPTION", "Server does not recognize given option");
      }
      conn.exceptions = true;
      return conn.send(PacketType.OPTION_RES, a);
    case PacketType.SET_CLIENT_ID:
      // Only what admin `workers` shows is kept (gearmand keeps 127 bytes), so a peer cannot pin a
      // 64 MiB id for the life of its connection.
      conn.clientId = latin1(a[0]!.subarray(0, MAX_CLIENT_ID));
      return;
    default: {
      const kind = SUBMITS.get(p.type);
      if (kind) return submit(queue, conn, p, kind);
      // Response-only types, UNUSED, ALL_YOURS and SUBMIT_JOB_SCHED.
      return error(conn, "INVALID_COMMAND", "Command not expected");
    }
  }
}

function submit(queue: JobQueue, conn: ServerConnection, p: Packet, kind: SubmitKind): void {
  const a = p.args;
  const unique = a[1]!;
  // gearmand skips this check for reduce jobs and truncates their unique to 63 bytes.
  if (unique.length > MAX_UNIQUE) return error(conn, "ARGUMENT_TOO_LARGE", "Unique value too large");
  const reducer = kind.reducer === undefined ? EMPTY : a[kind.reducer]!;
  if (reducer.length > MAX_REDUCER) return error(conn, "ARGUMENT_TOO_LARGE", "Reducer name too large");
  let when = 0;
  if (kind.epoch !== undefined) {
    const t = parseCLong(a[kind.epoch]!);
    if (t.overflow) return conn.close();
    when = Number(t.value);
  }
  const job = queue.submit({
    fn: a[0]!,
    unique,
    reducer,
    data: a[kind.data]!,
    priority: kind.priority,
    when,
    client: kind.foreground ? conn : undefined,
  });
  if (job === "full") return error(conn, "QUEUE_ERROR", "Job queue is full");
  conn.send(PacketType.JOB_CREATED, [job.handleBytes]);
}

function grab(queue: JobQueue, conn: ServerConnection, type: number): void {
  conn.sleeping = false;
  conn.noopSent = false;
  const job = queue.grab(conn);
  if (!job) return conn.send(PacketType.NO_JOB, []);
  if (type === PacketType.GRAB_JOB) {
    return conn.send(PacketType.JOB_ASSIGN, [job.handleBytes, job.fn.nameBytes, job.data]);
  }
  if (type === PacketType.GRAB_JOB_ALL && job.reducer.length > 0) {
    return conn.send(PacketType.JOB_ASSIGN_ALL, [job.handleBytes, job.fn.nameBytes, job.unique, job.reducer, job.data]);
  }
  conn.send(PacketType.JOB_ASSIGN_UNIQ, [job.handleBytes, job.fn.nameBytes, job.unique, job.data]);
}

function notFound(type: number): string {
  if (type === PacketType.WORK_DATA || type === PacketType.WORK_WARNING) return "Job does not exist on server";
  if (type === PacketType.WORK_EXCEPTION) return "An exception was received for a job that does not exist";
  return "Job given in work result not found";
}

function work(queue: JobQueue, conn: ServerConnection, p: Packet): void {
  const job: Job | undefined = queue.held(conn, p.args[0]!);
  if (!job) return error(conn, "JOB_NOT_FOUND", notFound(p.type));
  switch (p.type) {
    case PacketType.WORK_STATUS:
      job.numerator = statusNumber(p.args[1]!);
      // gearmand reads only the first 10 characters of the denominator.
      job.denominator = statusNumber(p.args[2]!, 10);
      for (const c of job.listeners) c.send(p.type, p.args);
      return;
    case PacketType.WORK_DATA:
    case PacketType.WORK_WARNING:
      for (const c of job.listeners) c.send(p.type, p.args);
      return;
    case PacketType.WORK_EXCEPTION:
      for (const c of job.listeners) {
        // gearmand copies the handle's NUL terminator into this WORK_FAIL; the handle alone is right.
        if (c.exceptions) c.send(p.type, p.args);
        else c.send(PacketType.WORK_FAIL, [job.handleBytes]);
      }
      return queue.finish(job);
    default:
      for (const c of job.listeners) c.send(p.type, p.args);
      return queue.finish(job);
  }
}

function getStatus(queue: JobQueue, conn: ServerConnection, handle: Uint8Array): void {
  const job = queue.jobs.get(latin1(handle));
  if (!job) return conn.send(PacketType.STATUS_RES, [handle, ZERO, ZERO, ZERO, ZERO]);
  conn.send(PacketType.STATUS_RES, [handle, ONE, job.worker ? ONE : ZERO, String(job.numerator), String(job.denominator)]);
}

function getStatusUnique(queue: JobQueue, conn: ServerConnection, unique: Uint8Array): void {
  // gearmand closes the connection when the unique is longer than 63 bytes; it is just unknown here.
  const job = queue.byUnique(unique);
  if (!job) return conn.send(PacketType.STATUS_RES_UNIQUE, [unique, ZERO, ZERO, ZERO, ZERO, ZERO]);
  conn.send(PacketType.STATUS_RES_UNIQUE, [
    unique,
    ONE,
    job.worker ? ONE : ZERO,
    String(job.numerator),
    String(job.denominator),
    String(job.listeners.length),
  ]);
}
