// Runtime-agnostic: what a principal may send through the bridge (spec/bridge.md §2.1 items 3-5, 9).
/** Pure checks over decoded packets: types per role, function allow-lists, name and unique limits, submit rate, unique namespace. @module */
import { concatBytes, toBytes, utf8 } from "../src/protocol/bytes.ts";
import { encodePacket, functionNameProblem, MAX_UNIQUE_BYTES, type Packet, PacketType as T, packetTypeName } from "../src/protocol/mod.ts";

/** The two roles a principal can hold. */
export type Role = "client" | "worker";

/** An authenticated peer, as `verify` returns it. */
export interface Principal {
  /** Stable id: client id shown by `workers`, unique namespace, per-principal limits. `[A-Za-z0-9._@-]`, at most 32 bytes. */
  id: string;
  /** What the peer may do. */ roles: readonly Role[];
  /** Functions it may submit: exact names, prefixes like `tenantA.*`, or `*`. @default [] */ submit?: readonly string[] | undefined;
  /** Functions it may register (`CAN_DO`). @default [] */ register?: readonly string[] | undefined;
  /** Expiry in seconds since the epoch; the connection closes with 4401 then. */ exp?: number | undefined;
  /** Allow `SUBMIT_JOB_EPOCH` (persistent far-future jobs). @default false */ allowEpoch?: boolean | undefined;
}

/** A packet's fate: undefined forwards it as it came, bytes go in its place, null drops it; a string closes with 1008 and says why. */
export type Verdict = Uint8Array | null | undefined | string;

/**
 * A rate limit: `take()` is false when no token is left; `spend(n)` takes `n` into debt and says how many ms until
 * it is paid; `full` when forgetting the bucket loses nothing.
 */
export interface TokenBucket { readonly rate: number; take(): boolean; spend(n: number): number; readonly full: boolean }

// A principal id is part of uniques and log lines, so keep it to safe characters and no `:`.
const PRINCIPAL_ID = /^[A-Za-z0-9._@-]{1,32}$/;
/** True for undefined or a list of strings. */
export const isList = (v: unknown): boolean => v === undefined || (Array.isArray(v) && v.every((x) => typeof x === "string"));
/** Throws a TypeError naming the first key of `o` outside `known`: a typo would silently switch a check off. */
export function knownKeys(o: object, known: readonly string[], what: string): void {
  const k = Object.keys(o).find((x) => !known.includes(x));
  if (k !== undefined) throw new TypeError(`unknown ${what} ${JSON.stringify(k)}; expected one of ${known.join(", ")}`);
}

/** Why a principal (from `verify`, a token or the policy file) is unusable, or undefined when it is fine. */
export function principalProblem(p: Principal): string | undefined {
  if (typeof p.id !== "string" || !PRINCIPAL_ID.test(p.id)) return `principal id ${JSON.stringify(p.id)} must match ${PRINCIPAL_ID}`;
  // A string where a list belongs would be iterated by character, and "*" would then allow everything.
  if (!Array.isArray(p.roles) || !p.roles.every((r) => r === "client" || r === "worker")) {
    return `principal ${p.id}: roles must be a list of "client" and "worker"`;
  }
  if (p.exp !== undefined && !Number.isFinite(p.exp)) return `principal ${p.id}: exp must be a number of seconds since the epoch`;
  return isList(p.submit) && isList(p.register) ? undefined : `principal ${p.id}: submit and register must be lists of function names`;
}

/** The submit packet types a client may send; each is answered, in order, with JOB_CREATED or ERROR. */
export const SUBMITS: ReadonlySet<number> = new Set([T.SUBMIT_JOB, T.SUBMIT_JOB_BG, T.SUBMIT_JOB_HIGH, T.SUBMIT_JOB_HIGH_BG, T.SUBMIT_JOB_LOW, T.SUBMIT_JOB_LOW_BG,
  T.SUBMIT_JOB_EPOCH, T.SUBMIT_REDUCE_JOB, T.SUBMIT_REDUCE_JOB_BACKGROUND]);
const ALLOWED: Readonly<Record<Role, ReadonlySet<number>>> = {
  client: new Set([...SUBMITS, T.GET_STATUS, T.GET_STATUS_UNIQUE, T.ECHO_REQ, T.OPTION_REQ, T.SET_CLIENT_ID]),
  worker: new Set([T.CAN_DO, T.CAN_DO_TIMEOUT, T.CANT_DO, T.RESET_ABILITIES, T.PRE_SLEEP, T.GRAB_JOB, T.GRAB_JOB_UNIQ,
    T.GRAB_JOB_ALL, T.WORK_STATUS, T.WORK_DATA, T.WORK_WARNING, T.WORK_COMPLETE, T.WORK_FAIL, T.WORK_EXCEPTION, T.ECHO_REQ,
    T.SET_CLIENT_ID]),
};

/** Why function name `raw` may not be used for `what` under allow-list `list` (exact names, `prefix*`, `*`), if it may not. */
function nameProblem(raw: Uint8Array, list: readonly string[] | undefined, what: string): string | undefined {
  // gearmand compares bytes: a BOM that a default decoder drops, or bytes that are not UTF-8, must not match.
  let name: string;
  try {
    name = strictUtf8.decode(raw);
  } catch {
    return `${what}: the function name is not valid UTF-8`;
  }
  const ok = (list ?? []).some((p) => p === name || (p.endsWith("*") && name.startsWith(p.slice(0, -1))));
  return functionNameProblem(raw) ?? (ok ? undefined : `${what} of function ${name.slice(0, 60)} not allowed`);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// `<id>:` as bytes, once per principal rather than once per submit.
const namespaces = new WeakMap<Principal, Uint8Array>();
function namespaceOf(who: Principal): Uint8Array {
  let prefix = namespaces.get(who);
  if (!prefix) namespaces.set(who, (prefix = toBytes(`${who.id}:`)));
  return prefix;
}

/** `p` encoded again with field `i` replaced by `arg`. */
const replaceArg = (p: Packet, i: number, arg: Uint8Array): Uint8Array => encodePacket(p.type, p.args.map((x, j) => (j === i ? arg : x)), p.magic);

/** Packet `p` with its unique (field `i`) in the principal's namespace, `<id>:<unique>`; an empty unique stays empty (never coalesced). */
function namespaced(p: Packet, i: number, who: Principal): Verdict {
  const unique = p.args[i]!;
  if (unique.length === 0) return undefined;
  if (unique.includes(0)) return "the unique id contains a NUL byte";
  // `-` makes gearmand coalesce on the payload, across principals: refuse it rather than leak results.
  if (unique.length === 1 && unique[0] === 0x2d) return "unique '-' (coalesce by payload) is not allowed through the bridge";
  const out = concatBytes([namespaceOf(who), unique]);
  const max = MAX_UNIQUE_BYTES - out.length + unique.length;
  if (out.length > MAX_UNIQUE_BYTES) return `unique is ${unique.length} bytes; with the principal prefix at most ${max} are allowed`;
  return replaceArg(p, i, out);
}

/** Strips this principal's namespace from a unique gearmand sends back (STATUS_RES_UNIQUE); other uniques come back as they are. */
export function stripNamespace(p: Packet, who: Principal): Uint8Array | undefined {
  const prefix = namespaceOf(who);
  return prefix.every((b, i) => p.args[0]![i] === b) ? replaceArg(p, 0, p.args[0]!.subarray(prefix.length)) : undefined;
}

/** Decides what becomes of one `\0REQ` packet from a peer. Each submit takes a token from `submits`. */
export function checkRequest(p: Packet, who: Principal, submits: TokenBucket): Verdict {
  if (!who.roles.some((r) => ALLOWED[r].has(p.type))) {
    return `packet type ${p.type} not allowed for ${who.roles.join("+") || "no role"} (${packetTypeName(p.type)})`;
  }
  const a = p.args;
  // The bridge already set the principal id; a peer must not overwrite the attribution.
  if (p.type === T.SET_CLIENT_ID) return null;
  // gearmand 1.1.20 aborts (__snprintf_chk) on a timeout of 2^64 or more, taking everyone's jobs with it.
  if (p.type === T.CAN_DO_TIMEOUT && !/^\d{1,9}$/.test(utf8(a[1]!))) return "CAN_DO_TIMEOUT needs a timeout of 1 to 9 digits";
  // Registered without the timeout: gearmand 1.1.20's one timer per connection requeues a freed job, losing jobs for
  // every tenant. A worker keeps its own timeout (as this SDK's does) and gives timed-out jobs back with CANT_DO.
  if (p.type === T.CAN_DO_TIMEOUT) return nameProblem(a[0]!, who.register, "register") ?? encodePacket(T.CAN_DO, [a[0]!]);
  if (p.type === T.CAN_DO) return nameProblem(a[0]!, who.register, "register");
  if (p.type === T.CANT_DO) return nameProblem(a[0]!, ["*"], "unregister");
  if (p.type === T.GET_STATUS_UNIQUE) return namespaced(p, 0, who);
  if (!SUBMITS.has(p.type)) return undefined;
  if (!submits.take()) return `rate limit: more than ${submits.rate} submits/s`;
  if (p.type === T.SUBMIT_JOB_EPOCH && !who.allowEpoch) return "SUBMIT_JOB_EPOCH is not allowed for this principal";
  // A reduce job runs two functions (mapper and reducer): both must be allowed.
  const reduce = p.type === T.SUBMIT_REDUCE_JOB || p.type === T.SUBMIT_REDUCE_JOB_BACKGROUND;
  return nameProblem(a[0]!, who.submit, "submit") ?? (reduce ? nameProblem(a[2]!, who.submit, "submit") : undefined) ?? namespaced(p, 1, who);
}

/** A token bucket: `rate` tokens per second, at most `burst` at once. */
export function tokenBucket(rate: number, burst: number): TokenBucket {
  let tokens = burst, last = Date.now();
  const refill = (): number => {
    const now = Date.now();
    tokens = Math.min(burst, tokens + ((now - last) * rate) / 1000);
    last = now;
    return tokens;
  };
  const spend = (n: number): number => {
    tokens = refill() - n;
    return tokens >= 0 ? 0 : (-tokens * 1000) / rate;
  };
  return { rate, take: () => refill() >= 1 && spend(1) === 0, spend, get full() { return refill() >= burst; } };
}
