// Runtime-agnostic policy checks of the bridge (spec/bridge.md §2.1 items 3-5): pure functions over decoded packets.
/**
 * What a principal may send: packet types per role, function allow-lists, name and unique
 * limits, and the per-principal unique namespace.
 * @module
 */
import { concatBytes } from "../src/protocol/bytes.ts";
import { MAX_UNIQUE_BYTES } from "../src/protocol/constants.ts";
import type { Packet } from "../src/protocol/packet.ts";
import { PacketType as T, packetTypeName } from "../src/protocol/packet-types.ts";
import { functionNameProblem } from "../src/protocol/validate.ts";

/** The two roles a principal can hold. */
export const Role = { CLIENT: "client", WORKER: "worker" } as const;
/** `"client"` or `"worker"`. */
export type Role = (typeof Role)[keyof typeof Role];

/** An authenticated peer, as `verify` returns it. */
export interface Principal {
  /** Stable id: client id shown by `workers`, unique namespace, per-principal limits. `[A-Za-z0-9._@-]`, at most 32 bytes. */
  id: string;
  /** What the peer may do. */
  roles: readonly Role[];
  /** Functions it may submit: exact names, prefixes like `tenantA.*`, or `*`. @default [] */
  submit?: readonly string[];
  /** Functions it may register (`CAN_DO`). @default [] */
  register?: readonly string[];
  /** Expiry in seconds since the epoch; the connection closes with 4401 then. */
  exp?: number;
  /** Allow `SUBMIT_JOB_EPOCH` (persistent far-future jobs). @default false */
  allowEpoch?: boolean;
}

/** What to do with one packet from a peer. */
export type Verdict =
  | { kind: "forward"; args?: Uint8Array[] }
  | { kind: "drop"; reason: string }
  | { kind: "deny-status" }
  | { kind: "close"; code: number; reason: string };

// A principal id is part of uniques and log lines, so keep it to safe characters and no `:`.
const PRINCIPAL_ID = /^[A-Za-z0-9._@-]{1,32}$/;
const isList = (v: unknown): boolean => v === undefined || (Array.isArray(v) && v.every((x) => typeof x === "string"));

/** Why a principal (from `verify`, a token or the policy file) is unusable, or undefined when it is fine. */
export function principalProblem(p: Principal): string | undefined {
  if (typeof p.id !== "string" || !PRINCIPAL_ID.test(p.id)) return `principal id ${JSON.stringify(p.id)} must match ${PRINCIPAL_ID}`;
  // A string where a list belongs would be iterated by character, and "*" would then allow everything.
  if (!isList(p.roles) || !p.roles.every((r) => r === Role.CLIENT || r === Role.WORKER)) {
    return `principal ${p.id}: roles must be a list of "client" and "worker"`;
  }
  if (!isList(p.submit) || !isList(p.register)) return `principal ${p.id}: submit and register must be lists of function names`;
  return undefined;
}

const CLIENT_TYPES: ReadonlySet<number> = new Set([
  T.SUBMIT_JOB, T.SUBMIT_JOB_BG, T.SUBMIT_JOB_HIGH, T.SUBMIT_JOB_HIGH_BG, T.SUBMIT_JOB_LOW, T.SUBMIT_JOB_LOW_BG,
  T.SUBMIT_JOB_EPOCH, T.SUBMIT_REDUCE_JOB, T.SUBMIT_REDUCE_JOB_BACKGROUND, T.GET_STATUS, T.GET_STATUS_UNIQUE,
  T.ECHO_REQ, T.OPTION_REQ, T.SET_CLIENT_ID,
]);
const WORKER_TYPES: ReadonlySet<number> = new Set([
  T.CAN_DO, T.CAN_DO_TIMEOUT, T.CANT_DO, T.RESET_ABILITIES, T.PRE_SLEEP, T.GRAB_JOB, T.GRAB_JOB_UNIQ, T.GRAB_JOB_ALL,
  T.WORK_STATUS, T.WORK_DATA, T.WORK_WARNING, T.WORK_COMPLETE, T.WORK_FAIL, T.WORK_EXCEPTION, T.ECHO_REQ, T.SET_CLIENT_ID,
]);

const enc = new TextEncoder();
const dec = new TextDecoder();

/** True when `name` matches an exact entry, a `prefix.*` entry, or `*`. */
export function allowed(name: string, patterns: readonly string[] | undefined): boolean {
  for (const p of patterns ?? []) {
    if (p === name || p === "*" || (p.endsWith("*") && name.startsWith(p.slice(0, -1)))) return true;
  }
  return false;
}

function deny(reason: string): Verdict {
  return { kind: "close", code: 1008, reason };
}

function nameVerdict(raw: Uint8Array, list: readonly string[] | undefined, what: string): Verdict | undefined {
  const problem = functionNameProblem(raw);
  if (problem) return deny(problem);
  const name = dec.decode(raw);
  return allowed(name, list) ? undefined : deny(`${what} of function ${name.slice(0, 60)} not allowed`);
}

/** Rewrites a unique into the principal's namespace: `<id>:<unique>`; empty stays empty (never coalesced). */
export function namespaceUnique(unique: Uint8Array, who: Principal): Uint8Array | string {
  if (unique.length === 0) return unique;
  if (unique.includes(0)) return "the unique id contains a NUL byte";
  // `-` makes gearmand coalesce on the payload, across principals: refuse it rather than leak results.
  if (unique.length === 1 && unique[0] === 0x2d) return "unique '-' (coalesce by payload) is not allowed through the bridge";
  const out = concatBytes([enc.encode(`${who.id}:`), unique]);
  if (out.length > MAX_UNIQUE_BYTES) {
    return `unique is ${unique.length} bytes; with the principal prefix at most ${MAX_UNIQUE_BYTES - out.length + unique.length} are allowed`;
  }
  return out;
}

/** Strips this principal's namespace from a unique gearmand sends back (STATUS_RES_UNIQUE). */
export function stripNamespace(unique: Uint8Array, who: Principal): Uint8Array {
  const prefix = enc.encode(`${who.id}:`);
  if (unique.length < prefix.length) return unique;
  for (let i = 0; i < prefix.length; i++) if (unique[i] !== prefix[i]) return unique;
  return unique.subarray(prefix.length);
}

const SUBMITS: ReadonlySet<number> = new Set([
  T.SUBMIT_JOB, T.SUBMIT_JOB_BG, T.SUBMIT_JOB_HIGH, T.SUBMIT_JOB_HIGH_BG, T.SUBMIT_JOB_LOW, T.SUBMIT_JOB_LOW_BG,
  T.SUBMIT_JOB_EPOCH, T.SUBMIT_REDUCE_JOB, T.SUBMIT_REDUCE_JOB_BACKGROUND,
]);

/** True for the submit types; the rate limit counts these. */
export function isSubmit(type: number): boolean {
  return SUBMITS.has(type);
}

function submitVerdict(p: Packet, who: Principal): Verdict {
  if (p.type === T.SUBMIT_JOB_EPOCH && !who.allowEpoch) return deny("SUBMIT_JOB_EPOCH is not allowed for this principal");
  // A reduce job runs two functions (mapper and reducer): both must be allowed.
  for (const i of p.type === T.SUBMIT_REDUCE_JOB || p.type === T.SUBMIT_REDUCE_JOB_BACKGROUND ? [0, 2] : [0]) {
    const v = nameVerdict(p.args[i]!, who.submit, "submit");
    if (v) return v;
  }
  const unique = namespaceUnique(p.args[1]!, who);
  if (typeof unique === "string") return deny(unique);
  const args = p.args.slice();
  args[1] = unique;
  return { kind: "forward", args };
}

/**
 * Decides what to do with one `\0REQ` packet from a peer: forward (maybe rewritten), drop, answer
 * a denied GET_STATUS, or close with a WebSocket code and a reason a person can read.
 */
export function checkRequest(p: Packet, who: Principal, ownsHandle: (handle: Uint8Array) => boolean): Verdict {
  const client = who.roles.includes(Role.CLIENT);
  const worker = who.roles.includes(Role.WORKER);
  if (!((client && CLIENT_TYPES.has(p.type)) || (worker && WORKER_TYPES.has(p.type)))) {
    return deny(`packet type ${p.type} not allowed for ${who.roles.join("+") || "no role"} (${packetTypeName(p.type)})`);
  }
  switch (p.type) {
    case T.SET_CLIENT_ID:
      // The bridge already set the principal id; a peer must not overwrite the attribution.
      return { kind: "drop", reason: "SET_CLIENT_ID is set by the bridge" };
    case T.CAN_DO_TIMEOUT:
      if (!/^\d{1,20}$/.test(dec.decode(p.args[1]!))) return deny("CAN_DO_TIMEOUT needs a timeout of 1 to 20 digits");
    // falls through
    case T.CAN_DO:
      return nameVerdict(p.args[0]!, who.register, "register") ?? { kind: "forward" };
    case T.CANT_DO:
      return nameVerdict(p.args[0]!, ["*"], "unregister") ?? { kind: "forward" };
    case T.GET_STATUS:
      return ownsHandle(p.args[0]!) ? { kind: "forward" } : { kind: "deny-status" };
    case T.GET_STATUS_UNIQUE: {
      const unique = namespaceUnique(p.args[0]!, who);
      return typeof unique === "string" ? deny(unique) : { kind: "forward", args: [unique] };
    }
    default:
      return SUBMITS.has(p.type) ? submitVerdict(p, who) : { kind: "forward" };
  }
}

/** A token bucket: `rate` tokens per second, holding at most `burst`. */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #last = Date.now();

  constructor(rate: number, burst: number) {
    this.#rate = rate;
    this.#burst = this.#tokens = burst;
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    if (this.#refill() < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** True when the bucket is full again, so forgetting it loses nothing. */
  get full(): boolean {
    return this.#refill() >= this.#burst;
  }

  #refill(): number {
    const now = Date.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) * this.#rate) / 1000);
    this.#last = now;
    return this.#tokens;
  }
}
