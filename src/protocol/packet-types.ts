// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Every Gearman packet type, with the names and numbers of libgearman's `protocol.h`, and the one
 * table of argument layouts that drives both the encoder and the decoder.
 * @module
 */

/** Packet type numbers, named as in libgearman `protocol.h` (without the `GEARMAN_COMMAND_` prefix). */
export const PacketType = {
  CAN_DO: 1,
  CANT_DO: 2,
  RESET_ABILITIES: 3,
  PRE_SLEEP: 4,
  UNUSED: 5,
  NOOP: 6,
  SUBMIT_JOB: 7,
  JOB_CREATED: 8,
  GRAB_JOB: 9,
  NO_JOB: 10,
  JOB_ASSIGN: 11,
  WORK_STATUS: 12,
  WORK_COMPLETE: 13,
  WORK_FAIL: 14,
  GET_STATUS: 15,
  ECHO_REQ: 16,
  ECHO_RES: 17,
  SUBMIT_JOB_BG: 18,
  ERROR: 19,
  STATUS_RES: 20,
  SUBMIT_JOB_HIGH: 21,
  SET_CLIENT_ID: 22,
  CAN_DO_TIMEOUT: 23,
  ALL_YOURS: 24,
  WORK_EXCEPTION: 25,
  OPTION_REQ: 26,
  OPTION_RES: 27,
  WORK_DATA: 28,
  WORK_WARNING: 29,
  GRAB_JOB_UNIQ: 30,
  JOB_ASSIGN_UNIQ: 31,
  SUBMIT_JOB_HIGH_BG: 32,
  SUBMIT_JOB_LOW: 33,
  SUBMIT_JOB_LOW_BG: 34,
  SUBMIT_JOB_SCHED: 35,
  SUBMIT_JOB_EPOCH: 36,
  SUBMIT_REDUCE_JOB: 37,
  SUBMIT_REDUCE_JOB_BACKGROUND: 38,
  GRAB_JOB_ALL: 39,
  JOB_ASSIGN_ALL: 40,
  GET_STATUS_UNIQUE: 41,
  STATUS_RES_UNIQUE: 42,
} as const;

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

/** Names by number (index 0 unused). */
const NAMES: string[] = [];
for (const name in PacketType) NAMES[PacketType[name as PacketTypeName]] = name;

/** True when `type` is a packet type number gearmand 1.1.20 knows (1..42). */
export function isPacketType(type: number): type is PacketTypeNumber {
  return Number.isInteger(type) && type >= 1 && type <= MAX_PACKET_TYPE;
}

/** The name of a packet type number, or `UNKNOWN(n)`. */
export function packetTypeName(type: number): string {
  // Anything but 1..42 (fractions, negatives, NaN) finds no entry.
  return NAMES[type] ?? `UNKNOWN(${type})`;
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
