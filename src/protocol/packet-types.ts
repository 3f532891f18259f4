// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Every Gearman packet type, with the names and numbers of libgearman's `protocol.h`, and the one
 * table of argument layouts that drives both the encoder and the decoder.
 * @module
 */
import { ProtocolError } from "../errors.ts";

/**
 * The packet type names of libgearman's `protocol.h` (without the `GEARMAN_COMMAND_` prefix), each at the index of
 * its number: the one list {@link PacketType} and {@link packetTypeName} are made from.
 */
export const PACKET_TYPE_NAMES = [
  "", "CAN_DO", "CANT_DO", "RESET_ABILITIES", "PRE_SLEEP", "UNUSED", "NOOP", "SUBMIT_JOB", "JOB_CREATED", "GRAB_JOB",
  "NO_JOB", "JOB_ASSIGN", "WORK_STATUS", "WORK_COMPLETE", "WORK_FAIL", "GET_STATUS", "ECHO_REQ", "ECHO_RES",
  "SUBMIT_JOB_BG", "ERROR", "STATUS_RES", "SUBMIT_JOB_HIGH", "SET_CLIENT_ID", "CAN_DO_TIMEOUT", "ALL_YOURS",
  "WORK_EXCEPTION", "OPTION_REQ", "OPTION_RES", "WORK_DATA", "WORK_WARNING", "GRAB_JOB_UNIQ", "JOB_ASSIGN_UNIQ",
  "SUBMIT_JOB_HIGH_BG", "SUBMIT_JOB_LOW", "SUBMIT_JOB_LOW_BG", "SUBMIT_JOB_SCHED", "SUBMIT_JOB_EPOCH",
  "SUBMIT_REDUCE_JOB", "SUBMIT_REDUCE_JOB_BACKGROUND", "GRAB_JOB_ALL", "JOB_ASSIGN_ALL", "GET_STATUS_UNIQUE",
  "STATUS_RES_UNIQUE",
] as const;

/** The {@link PacketType} table's type: each name of {@link PACKET_TYPE_NAMES} with its index as the number. */
export type PacketTypeTable = {
  readonly [I in keyof typeof PACKET_TYPE_NAMES as I extends `${number}` ? Exclude<(typeof PACKET_TYPE_NAMES)[I], ""> : never]: I extends `${infer N extends number}` ? N : never;
};

/** Packet type numbers, named as in libgearman `protocol.h`: `PacketType.SUBMIT_JOB` is 7. */
export const PacketType: PacketTypeTable = Object.fromEntries(PACKET_TYPE_NAMES.map((name, i) => [name, i]).slice(1)) as PacketTypeTable;

/** Name of a packet type, e.g. `"SUBMIT_JOB"`. */
export type PacketTypeName = keyof typeof PacketType;
/** Number of a packet type, e.g. `7`. */
export type PacketTypeNumber = (typeof PacketType)[PacketTypeName];

/** The highest packet type number gearmand 1.1.20 knows. */
export const MAX_PACKET_TYPE = 42;

/**
 * Argument names of each packet type, in wire order. The last argument is the unterminated one and
 * may hold any bytes; the others are separated by single NULs and must not contain NUL. This is the
 * `command.cc` table of libgearman, with SUBMIT_REDUCE_JOB's empty fourth field ("aggregate").
 */
export const PACKET_ARGS: Readonly<Record<PacketTypeNumber, readonly string[]>> = {
  1: ["function"],
  2: ["function"],
  3: [],
  4: [],
  5: [],
  6: [],
  7: ["function", "unique", "data"],
  8: ["handle"],
  9: [],
  10: [],
  11: ["handle", "function", "data"],
  12: ["handle", "numerator", "denominator"],
  13: ["handle", "data"],
  14: ["handle"],
  15: ["handle"],
  16: ["data"],
  17: ["data"],
  18: ["function", "unique", "data"],
  19: ["code", "text"],
  20: ["handle", "known", "running", "numerator", "denominator"],
  21: ["function", "unique", "data"],
  22: ["id"],
  23: ["function", "timeout"],
  24: [],
  25: ["handle", "data"],
  26: ["option"],
  27: ["option"],
  28: ["handle", "data"],
  29: ["handle", "data"],
  30: [],
  31: ["handle", "function", "unique", "data"],
  32: ["function", "unique", "data"],
  33: ["function", "unique", "data"],
  34: ["function", "unique", "data"],
  35: ["function", "unique", "minute", "hour", "mday", "month", "wday", "data"],
  36: ["function", "unique", "epoch", "data"],
  37: ["function", "unique", "reducer", "aggregate", "data"],
  38: ["function", "unique", "reducer", "aggregate", "data"],
  39: [],
  40: ["handle", "function", "unique", "reducer", "data"],
  41: ["unique"],
  42: ["unique", "known", "running", "numerator", "denominator", "waiting"],
};


/** True when `type` is a packet type number gearmand 1.1.20 knows (1..42). */
export function isPacketType(type: number): type is PacketTypeNumber {
  return Number.isInteger(type) && type >= 1 && type <= MAX_PACKET_TYPE;
}

/** Throws the `unknown_type` {@link ProtocolError} for a number that is not a packet type (encoder and decoder alike). */
export function checkPacketType(type: number): asserts type is PacketTypeNumber {
  if (!isPacketType(type)) throw new ProtocolError("unknown_type", `unknown packet type ${type}; gearmand knows 1 to ${MAX_PACKET_TYPE}`);
}

/** The name of a packet type number, or `UNKNOWN(n)`. */
export function packetTypeName(type: number): string {
  // Anything but 1..42 (0, fractions, negatives, NaN) finds no name.
  return PACKET_TYPE_NAMES[type] || `UNKNOWN(${type})`;
}

/**
 * Field counts by type number (index 0 unused), the only part of {@link PACKET_ARGS} the codec needs;
 * kept apart so browser bundles that never print field names do not carry them. A unit test keeps
 * the two tables equal.
 */
export const ARG_COUNTS: readonly number[] = [0, 1, 1, 0, 0, 0, 0, 3, 1, 0, 0, 3, 3, 2, 1, 1, 1, 1, 3, 2, 5, 3, 1, 2, 0, 2, 1, 1, 2, 2, 0, 4, 3, 3, 3, 8, 4, 5, 5, 0, 5, 1, 6];

/** Number of arguments of a packet type. */
export function argCount(type: PacketTypeNumber): number {
  return ARG_COUNTS[type]!;
}
