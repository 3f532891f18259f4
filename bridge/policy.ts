// Runtime-agnostic: what a principal may send through the bridge (spec/bridge.md §2.1 items 3-5, 9).
/**
 * Pure checks over decoded packets: types per role, function allow-lists, name and unique limits, submit rate, unique namespace.
 * @module
 */
import { concatBytes, toBytes, utf8 } from "../src/protocol/bytes.ts";
import { functionNameProblem, MAX_UNIQUE_BYTES, type Packet, PacketType as T, packetTypeName } from "../src/protocol/mod.ts";

/** The two roles a principal can hold. */
export type Role = "client" | "worker";

/** An authenticated peer, as `verify` returns it. */
export interface Principal {
  /** Stable id: client id shown by `workers`, unique namespace, per-principal limits. `[A-Za-z0-9._@-]`, at most 32 bytes. */
  id: string;
  /** What the peer may do. */ roles: readonly Role[];
  /** Functions it may submit: exact names, prefixes like `tenantA.*`, or `*`. @default [] */ submit?: readonly string[];
  /** Functions it may register (`CAN_DO`). @default [] */ register?: readonly string[];
  /** Expiry in seconds since the epoch; the connection closes with 4401 then. */ exp?: number;
  /** Allow `SUBMIT_JOB_EPOCH` (persistent far-future jobs). @default false */ allowEpoch?: boolean;
}

/** What to do with one packet from a peer: forward it (with `args` when rewritten), drop it, or close. */
export type Verdict =
  | { kind: "forward"; args?: Uint8Array[] }
  | { kind: "drop"; reason: string }
  | { kind: "close"; code: number; reason: string };

// A principal id is part of uniques and log lines, so keep it to safe characters and no `:`.
const PRINCIPAL_ID = /^[A-Za-z0-9._@-]{1,32}$/;
const isList = (v: unknown): boolean => v === undefined || (Array.isArray(v) && v.every((x) => typeof x === "string"));

/** Why a principal (from `verify`, a token or the policy file) is unusable, or undefined when it is fine. */
export function principalProblem(p: Principal): string | undefined {
  if (typeof p.id !== "string" || !PRINCIPAL_ID.test(p.id)) return `principal id ${JSON.stringify(p.id)} must match ${PRINCIPAL_ID}`;
  // A string where a list belongs would be iterated by character, and "*" would then allow everything.
  if (!Array.isArray(p.roles) || !p.roles.every((r) => r === "client" || r === "worker")) {
    return `principal ${p.id}: roles must be a list of "client" and "worker"`;
  }
  return isList(p.submit) && isList(p.register) ? undefined : `principal ${p.id}: submit and register must be lists of function names`;
}

const SUBMITS = [T.SUBMIT_JOB, T.SUBMIT_JOB_BG, T.SUBMIT_JOB_HIGH, T.SUBMIT_JOB_HIGH_BG, T.SUBMIT_JOB_LOW, T.SUBMIT_JOB_LOW_BG,
  T.SUBMIT_JOB_EPOCH, T.SUBMIT_REDUCE_JOB, T.SUBMIT_REDUCE_JOB_BACKGROUND];
const IS_SUBMIT: ReadonlySet<number> = new Set(SUBMITS);
const ALLOWED: Readonly<Record<Role, ReadonlySet<number>>> = {
  client: new Set([...SUBMITS, T.GET_STATUS, T.GET_STATUS_UNIQUE, T.ECHO_REQ, T.OPTION_REQ, T.SET_CLIENT_ID]),
  worker: new Set([T.CAN_DO, T.CAN_DO_TIMEOUT, T.CANT_DO, T.RESET_ABILITIES, T.PRE_SLEEP, T.GRAB_JOB, T.GRAB_JOB_UNIQ,
    T.GRAB_JOB_ALL, T.WORK_STATUS, T.WORK_DATA, T.WORK_WARNING, T.WORK_COMPLETE, T.WORK_FAIL, T.WORK_EXCEPTION, T.ECHO_REQ,
    T.SET_CLIENT_ID]),
};

const FORWARD: Verdict = { kind: "forward" };
const deny = (reason: string): Verdict => ({ kind: "close", code: 1008, reason });

/** True when `name` matches an exact entry, a `prefix.*` entry, or `*`. */
export function allowed(name: string, patterns: readonly string[] | undefined): boolean {
  return (patterns ?? []).some((p) => p === name || p === "*" || (p.endsWith("*") && name.startsWith(p.slice(0, -1))));
}

function nameProblem(raw: Uint8Array, list: readonly string[] | undefined, what: string): Verdict | undefined {
  const problem = functionNameProblem(raw);
  if (problem) return deny(problem);
  const name = utf8(raw);
  return allowed(name, list) ? undefined : deny(`${what} of function ${name.slice(0, 60)} not allowed`);
}

/** Rewrites a unique into the principal's namespace, `<id>:<unique>`, or says why not; empty stays empty (never coalesced). */
export function namespaceUnique(unique: Uint8Array, who: Principal): Uint8Array | string {
  if (unique.length === 0) return unique;
  if (unique.includes(0)) return "the unique id contains a NUL byte";
  // `-` makes gearmand coalesce on the payload, across principals: refuse it rather than leak results.
  if (unique.length === 1 && unique[0] === 0x2d) return "unique '-' (coalesce by payload) is not allowed through the bridge";
  const out = concatBytes([toBytes(`${who.id}:`), unique]);
  const max = MAX_UNIQUE_BYTES - out.length + unique.length;
  return out.length <= MAX_UNIQUE_BYTES ? out : `unique is ${unique.length} bytes; with the principal prefix at most ${max} are allowed`;
}

/** Strips this principal's namespace from a unique gearmand sends back (STATUS_RES_UNIQUE); other uniques come back as they are. */
export function stripNamespace(unique: Uint8Array, who: Principal): Uint8Array {
  const prefix = toBytes(`${who.id}:`);
  return prefix.every((b, i) => unique[i] === b) ? unique.subarray(prefix.length) : unique;
}

/**
 * Decides what to do with one `\0REQ` packet from a peer: forward it (maybe rewritten), drop it, or
 * close with a WebSocket code and a reason a person can read. Each submit takes a token from `submits`.
 */
export function checkRequest(p: Packet, who: Principal, submits: TokenBucket): Verdict {
  if (!who.roles.some((r) => ALLOWED[r].has(p.type))) {
    return deny(`packet type ${p.type} not allowed for ${who.roles.join("+") || "no role"} (${packetTypeName(p.type)})`);
  }
  const a = p.args;
  // The bridge already set the principal id; a peer must not overwrite the attribution.
  if (p.type === T.SET_CLIENT_ID) return { kind: "drop", reason: "SET_CLIENT_ID is set by the bridge" };
  if (p.type === T.CAN_DO_TIMEOUT && !/^\d{1,20}$/.test(utf8(a[1]!))) return deny("CAN_DO_TIMEOUT needs a timeout of 1 to 20 digits");
  if (p.type === T.CAN_DO || p.type === T.CAN_DO_TIMEOUT) return nameProblem(a[0]!, who.register, "register") ?? FORWARD;
  if (p.type === T.CANT_DO) return nameProblem(a[0]!, ["*"], "unregister") ?? FORWARD;
  if (p.type === T.GET_STATUS_UNIQUE) return namespaced(p, 0, who);
  if (!IS_SUBMIT.has(p.type)) return FORWARD;
  if (!submits.take()) return deny(`rate limit: more than ${submits.rate} submits/s`);
  if (p.type === T.SUBMIT_JOB_EPOCH && !who.allowEpoch) return deny("SUBMIT_JOB_EPOCH is not allowed for this principal");
  // A reduce job runs two functions (mapper and reducer): both must be allowed.
  const reduce = p.type === T.SUBMIT_REDUCE_JOB || p.type === T.SUBMIT_REDUCE_JOB_BACKGROUND;
  const bad = nameProblem(a[0]!, who.submit, "submit") ?? (reduce ? nameProblem(a[2]!, who.submit, "submit") : undefined);
  return bad ?? namespaced(p, 1, who);
}

/** Forwards `p` with its unique (field `i`) in the principal's namespace. */
function namespaced(p: Packet, i: number, who: Principal): Verdict {
  const unique = namespaceUnique(p.args[i]!, who);
  if (typeof unique === "string") return deny(unique);
  return unique === p.args[i] ? FORWARD : { kind: "forward", args: p.args.map((x, j) => (j === i ? unique : x)) };
}

/** A token bucket: `rate` tokens per second, holding at most `burst`. */
export class TokenBucket {
  readonly rate: number;
  readonly #burst: number;
  #tokens: number;
  #last = Date.now();

  constructor(rate: number, burst: number) {
    this.rate = rate;
    this.#burst = this.#tokens = burst;
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = Date.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) * this.rate) / 1000);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** True when the bucket is full again, so forgetting it loses nothing. */
  get full(): boolean {
    return this.#tokens + ((Date.now() - this.#last) * this.rate) / 1000 >= this.#burst;
  }
}
