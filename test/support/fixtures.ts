// Test support (runtime-agnostic): golden packet vectors.
/**
 * Golden byte vectors for every Gearman packet type 1..42, written out from protocol.md §1-2
 * (12-byte header: magic, big-endian type, big-endian body length; body: the fields joined by
 * single NULs, the last one unterminated). They were derived from the spec, never produced by the
 * encoder under test, so a test comparing the encoder with them can fail.
 *
 * In `hex`, spaces and `|` are only for reading: `magic type length | field 00 field 00 field`.
 * @module
 */

/** One golden packet: what to pass to the encoder and the exact bytes it must produce. */
export interface GoldenPacket {
  /** A label for test names. */
  readonly label: string;
  /** Packet type number. */
  readonly type: number;
  /** `req` for `\0REQ`, `res` for `\0RES`. */
  readonly magic: "req" | "res";
  /** The fields, in wire order; strings are sent as UTF-8. */
  readonly args: readonly (string | Uint8Array)[];
  /** The exact wire bytes, as hex. */
  readonly hex: string;
}

/** Parses a hex string, ignoring spaces, newlines and `|`. */
export function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  const clean = hex.replace(/[\s|]/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`bad hex: ${hex}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Formats bytes as lowercase hex without separators (for readable assertion diffs). */
export function bytesToHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** The byte-exact example of protocol.md §1, copied verbatim (SUBMIT_REDUCE_JOB split/u1/upper/""/"a b"). */
export const SPEC_SUBMIT_REDUCE_JOB_HEX =
  "00 52 45 51  00 00 00 25  00 00 00 13  73 70 6c 69 74 00  75 31 00  75 70 70 65 72 00  00  61 20 62";

/** Exactly one vector per packet type, in type order: GOLDEN[i].type === i + 1. */
export const GOLDEN: readonly GoldenPacket[] = [
  { label: "CAN_DO", type: 1, magic: "req", args: ["reverse"], hex: "00524551 00000001 00000007 | 72657665727365" },
  { label: "CANT_DO", type: 2, magic: "req", args: ["reverse"], hex: "00524551 00000002 00000007 | 72657665727365" },
  { label: "RESET_ABILITIES", type: 3, magic: "req", args: [], hex: "00524551 00000003 00000000" },
  { label: "PRE_SLEEP", type: 4, magic: "req", args: [], hex: "00524551 00000004 00000000" },
  { label: "UNUSED", type: 5, magic: "req", args: [], hex: "00524551 00000005 00000000" },
  { label: "NOOP", type: 6, magic: "res", args: [], hex: "00524553 00000006 00000000" },
  {
    label: "SUBMIT_JOB (empty unique)",
    type: 7,
    magic: "req",
    args: ["reverse", "", "hello"],
    hex: "00524551 00000007 0000000e | 72657665727365 00 00 68656c6c6f",
  },
  { label: "JOB_CREATED", type: 8, magic: "res", args: ["H:interop:1"], hex: "00524553 00000008 0000000b | 483a696e7465726f703a31" },
  { label: "GRAB_JOB", type: 9, magic: "req", args: [], hex: "00524551 00000009 00000000" },
  { label: "NO_JOB", type: 10, magic: "res", args: [], hex: "00524553 0000000a 00000000" },
  {
    label: "JOB_ASSIGN",
    type: 11,
    magic: "res",
    args: ["H:interop:1", "mapf", "payload-a"],
    hex: "00524553 0000000b 0000001a | 483a696e7465726f703a31 00 6d617066 00 7061796c6f61642d61",
  },
  {
    label: "WORK_STATUS",
    type: 12,
    magic: "req",
    args: ["H:interop:1", "3", "10"],
    hex: "00524551 0000000c 00000010 | 483a696e7465726f703a31 00 33 00 3130",
  },
  {
    label: "WORK_COMPLETE",
    type: 13,
    magic: "res",
    args: ["H:interop:1", "slept"],
    hex: "00524553 0000000d 00000011 | 483a696e7465726f703a31 00 736c657074",
  },
  { label: "WORK_FAIL", type: 14, magic: "res", args: ["H:interop:1"], hex: "00524553 0000000e 0000000b | 483a696e7465726f703a31" },
  { label: "GET_STATUS", type: 15, magic: "req", args: ["H:interop:1"], hex: "00524551 0000000f 0000000b | 483a696e7465726f703a31" },
  {
    label: "ECHO_REQ (binary with NULs)",
    type: 16,
    magic: "req",
    args: [new Uint8Array([0x00, 0x01, 0xff, 0x00])],
    hex: "00524551 00000010 00000004 | 0001ff00",
  },
  {
    label: "ECHO_RES (binary with NULs)",
    type: 17,
    magic: "res",
    args: [new Uint8Array([0x00, 0x01, 0xff, 0x00])],
    hex: "00524553 00000011 00000004 | 0001ff00",
  },
  {
    label: "SUBMIT_JOB_BG",
    type: 18,
    magic: "req",
    args: ["reverse", "u-1", "x"],
    hex: "00524551 00000012 0000000d | 72657665727365 00 752d31 00 78",
  },
  {
    label: "ERROR",
    type: 19,
    magic: "res",
    args: ["JOB_NOT_FOUND", "Job given in work result not found"],
    hex:
      "00524553 00000013 00000030 | 4a4f425f4e4f545f464f554e44 00 " +
      "4a6f6220676976656e20696e20776f726b20726573756c74206e6f7420666f756e64",
  },
  {
    label: "STATUS_RES",
    type: 20,
    magic: "res",
    args: ["H:interop:1", "1", "1", "3", "10"],
    hex: "00524553 00000014 00000014 | 483a696e7465726f703a31 00 31 00 31 00 33 00 3130",
  },
  {
    label: "SUBMIT_JOB_HIGH (UTF-8 data)",
    type: 21,
    magic: "req",
    args: ["reverse", "", "café"],
    hex: "00524551 00000015 0000000e | 72657665727365 00 00 636166c3a9",
  },
  { label: "SET_CLIENT_ID", type: 22, magic: "req", args: ["admin-worker"], hex: "00524551 00000016 0000000c | 61646d696e2d776f726b6572" },
  { label: "CAN_DO_TIMEOUT", type: 23, magic: "req", args: ["ret", "1000"], hex: "00524551 00000017 00000008 | 726574 00 31303030" },
  { label: "ALL_YOURS", type: 24, magic: "req", args: [], hex: "00524551 00000018 00000000" },
  {
    label: "WORK_EXCEPTION (len=25 as in protocol.md §6)",
    type: 25,
    magic: "req",
    args: ["H:interop:1", "map exception"],
    hex: "00524551 00000019 00000019 | 483a696e7465726f703a31 00 6d617020657863657074696f6e",
  },
  { label: "OPTION_REQ", type: 26, magic: "req", args: ["exceptions"], hex: "00524551 0000001a 0000000a | 657863657074696f6e73" },
  { label: "OPTION_RES", type: 27, magic: "res", args: ["exceptions"], hex: "00524553 0000001b 0000000a | 657863657074696f6e73" },
  {
    label: "WORK_DATA",
    type: 28,
    magic: "req",
    args: ["H:interop:1", "chunk"],
    hex: "00524551 0000001c 00000011 | 483a696e7465726f703a31 00 6368756e6b",
  },
  {
    label: "WORK_WARNING",
    type: 29,
    magic: "res",
    args: ["H:interop:1", "careful"],
    hex: "00524553 0000001d 00000013 | 483a696e7465726f703a31 00 6361726566756c",
  },
  { label: "GRAB_JOB_UNIQ", type: 30, magic: "req", args: [], hex: "00524551 0000001e 00000000" },
  {
    label: "JOB_ASSIGN_UNIQ",
    type: 31,
    magic: "res",
    args: ["H:interop:2", "mapf", "u-b", "payload-b"],
    hex: "00524553 0000001f 0000001e | 483a696e7465726f703a32 00 6d617066 00 752d62 00 7061796c6f61642d62",
  },
  { label: "SUBMIT_JOB_HIGH_BG", type: 32, magic: "req", args: ["f", "u", "d"], hex: "00524551 00000020 00000005 | 66 00 75 00 64" },
  {
    label: "SUBMIT_JOB_LOW (empty unique and empty data)",
    type: 33,
    magic: "req",
    args: ["f", "", ""],
    hex: "00524551 00000021 00000003 | 66 00 00",
  },
  { label: "SUBMIT_JOB_LOW_BG", type: 34, magic: "req", args: ["f", "u", "d"], hex: "00524551 00000022 00000005 | 66 00 75 00 64" },
  {
    label: "SUBMIT_JOB_SCHED (8 fields)",
    type: 35,
    magic: "req",
    args: ["f", "u", "30", "4", "1", "12", "0", "d"],
    hex: "00524551 00000023 00000011 | 66 00 75 00 3330 00 34 00 31 00 3132 00 30 00 64",
  },
  {
    label: "SUBMIT_JOB_EPOCH",
    type: 36,
    magic: "req",
    args: ["f", "u", "1700000000", "d"],
    hex: "00524551 00000024 00000010 | 66 00 75 00 31373030303030303030 00 64",
  },
  {
    label: "SUBMIT_REDUCE_JOB (protocol.md §1 example)",
    type: 37,
    magic: "req",
    args: ["split", "u1", "upper", "", "a b"],
    hex: SPEC_SUBMIT_REDUCE_JOB_HEX,
  },
  {
    label: "SUBMIT_REDUCE_JOB_BACKGROUND (5 fields)",
    type: 38,
    magic: "req",
    args: ["split", "u1", "upper", "", "a b"],
    hex: "00524551 00000026 00000013 | 73706c6974 00 7531 00 7570706572 00 00 612062",
  },
  { label: "GRAB_JOB_ALL", type: 39, magic: "req", args: [], hex: "00524551 00000027 00000000" },
  {
    label: "JOB_ASSIGN_ALL (protocol.md §4.2)",
    type: 40,
    magic: "res",
    args: ["H:interop:3", "mapf", "u-c", "redf", "payload-c"],
    hex: "00524553 00000028 00000023 | 483a696e7465726f703a33 00 6d617066 00 752d63 00 72656466 00 7061796c6f61642d63",
  },
  { label: "GET_STATUS_UNIQUE", type: 41, magic: "req", args: ["same"], hex: "00524551 00000029 00000004 | 73616d65" },
  {
    label: "STATUS_RES_UNIQUE (first field is the unique)",
    type: 42,
    magic: "res",
    args: ["same", "1", "0", "0", "0", "2"],
    hex: "00524553 0000002a 0000000e | 73616d65 00 31 00 30 00 30 00 30 00 32",
  },
];

/** More vectors taken from traces in protocol.md: the other direction of shared types, and edge layouts. */
export const GOLDEN_EXTRA: readonly GoldenPacket[] = [
  {
    label: "WORK_FAIL with the trailing NUL gearmand sends for a converted exception (§6, len=12)",
    type: 14,
    magic: "res",
    args: ["H:interop:1\0"],
    hex: "00524553 0000000e 0000000c | 483a696e7465726f703a31 00",
  },
  {
    label: "STATUS_RES for an unknown handle (0 0 0 0)",
    type: 20,
    magic: "res",
    args: ["H:x:9", "0", "0", "0", "0"],
    hex: "00524553 00000014 0000000d | 483a783a39 00 30 00 30 00 30 00 30",
  },
  {
    label: "WORK_STATUS forwarded by the server",
    type: 12,
    magic: "res",
    args: ["H:interop:1", "3", "10"],
    hex: "00524553 0000000c 00000010 | 483a696e7465726f703a31 00 33 00 3130",
  },
  {
    label: "WORK_COMPLETE from a worker, empty data",
    type: 13,
    magic: "req",
    args: ["H:interop:1", ""],
    hex: "00524551 0000000d 0000000c | 483a696e7465726f703a31 00",
  },
  {
    label: "ERROR INVALID_MAGIC",
    type: 19,
    magic: "res",
    args: ["INVALID_MAGIC", "Request magic expected"],
    hex: "00524553 00000013 00000024 | 494e56414c49445f4d41474943 00 52657175657374206d61676963206578706563746564",
  },
  {
    label: "CAN_DO whose name ends in NUL (the NUL is part of the value)",
    type: 1,
    magic: "req",
    args: ["fn\0"],
    hex: "00524551 00000001 00000003 | 666e 00",
  },
  {
    label: "ECHO_REQ empty",
    type: 16,
    magic: "req",
    args: [""],
    hex: "00524551 00000010 00000000",
  },
];

/** The field count of each packet type 1..42, copied from the protocol.md §2 table ("fields" column). */
export const SPEC_FIELD_COUNTS: Readonly<Record<number, number>> = {
  1: 1, 2: 1, 3: 0, 4: 0, 5: 0, 6: 0, 7: 3, 8: 1, 9: 0, 10: 0,
  11: 3, 12: 3, 13: 2, 14: 1, 15: 1, 16: 1, 17: 1, 18: 3, 19: 2, 20: 5,
  21: 3, 22: 1, 23: 2, 24: 0, 25: 2, 26: 1, 27: 1, 28: 2, 29: 2, 30: 0,
  31: 4, 32: 3, 33: 3, 34: 3, 35: 8, 36: 4, 37: 5, 38: 5, 39: 0, 40: 5,
  41: 1, 42: 6,
};

/** The names of protocol.md §2 (libgearman protocol.h without the GEARMAN_COMMAND_ prefix). */
export const SPEC_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: "CAN_DO", 2: "CANT_DO", 3: "RESET_ABILITIES", 4: "PRE_SLEEP", 5: "UNUSED", 6: "NOOP",
  7: "SUBMIT_JOB", 8: "JOB_CREATED", 9: "GRAB_JOB", 10: "NO_JOB", 11: "JOB_ASSIGN",
  12: "WORK_STATUS", 13: "WORK_COMPLETE", 14: "WORK_FAIL", 15: "GET_STATUS", 16: "ECHO_REQ",
  17: "ECHO_RES", 18: "SUBMIT_JOB_BG", 19: "ERROR", 20: "STATUS_RES", 21: "SUBMIT_JOB_HIGH",
  22: "SET_CLIENT_ID", 23: "CAN_DO_TIMEOUT", 24: "ALL_YOURS", 25: "WORK_EXCEPTION",
  26: "OPTION_REQ", 27: "OPTION_RES", 28: "WORK_DATA", 29: "WORK_WARNING", 30: "GRAB_JOB_UNIQ",
  31: "JOB_ASSIGN_UNIQ", 32: "SUBMIT_JOB_HIGH_BG", 33: "SUBMIT_JOB_LOW", 34: "SUBMIT_JOB_LOW_BG",
  35: "SUBMIT_JOB_SCHED", 36: "SUBMIT_JOB_EPOCH", 37: "SUBMIT_REDUCE_JOB",
  38: "SUBMIT_REDUCE_JOB_BACKGROUND", 39: "GRAB_JOB_ALL", 40: "JOB_ASSIGN_ALL",
  41: "GET_STATUS_UNIQUE", 42: "STATUS_RES_UNIQUE",
};

/** The fields a golden vector should decode to, as bytes. */
export function goldenFields(p: GoldenPacket): Uint8Array[] {
  const enc = new TextEncoder();
  return p.args.map((a) => (typeof a === "string" ? enc.encode(a) : a));
}
