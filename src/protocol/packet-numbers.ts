// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * The packet type numbers as plain constants, for the core's own use: imported as a namespace
 * (`import * as PacketType from "./packet-numbers.ts"`), `PacketType.WORK_COMPLETE` reads as it does
 * on the public `PacketType` table, but bundlers inline each constant, so the browser bundle
 * carries numbers instead of property lookups (about 100 bytes gzipped). The public table in
 * packet-types.ts stays the one users see; a unit test keeps the two equal.
 * @module
 */
export const CAN_DO = 1;
export const CANT_DO = 2;
export const RESET_ABILITIES = 3;
export const PRE_SLEEP = 4;
export const UNUSED = 5;
export const NOOP = 6;
export const SUBMIT_JOB = 7;
export const JOB_CREATED = 8;
export const GRAB_JOB = 9;
export const NO_JOB = 10;
export const JOB_ASSIGN = 11;
export const WORK_STATUS = 12;
export const WORK_COMPLETE = 13;
export const WORK_FAIL = 14;
export const GET_STATUS = 15;
export const ECHO_REQ = 16;
export const ECHO_RES = 17;
export const SUBMIT_JOB_BG = 18;
export const ERROR = 19;
export const STATUS_RES = 20;
export const SUBMIT_JOB_HIGH = 21;
export const SET_CLIENT_ID = 22;
export const CAN_DO_TIMEOUT = 23;
export const ALL_YOURS = 24;
export const WORK_EXCEPTION = 25;
export const OPTION_REQ = 26;
export const OPTION_RES = 27;
export const WORK_DATA = 28;
export const WORK_WARNING = 29;
export const GRAB_JOB_UNIQ = 30;
export const JOB_ASSIGN_UNIQ = 31;
export const SUBMIT_JOB_HIGH_BG = 32;
export const SUBMIT_JOB_LOW = 33;
export const SUBMIT_JOB_LOW_BG = 34;
export const SUBMIT_JOB_SCHED = 35;
export const SUBMIT_JOB_EPOCH = 36;
export const SUBMIT_REDUCE_JOB = 37;
export const SUBMIT_REDUCE_JOB_BACKGROUND = 38;
export const GRAB_JOB_ALL = 39;
export const JOB_ASSIGN_ALL = 40;
export const GET_STATUS_UNIQUE = 41;
export const STATUS_RES_UNIQUE = 42;
