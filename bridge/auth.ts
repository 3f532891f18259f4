// Node only: node:crypto. Authentication of the bridge at the WebSocket upgrade (spec/bridge.md §2.1 items 1-2).
/** Bearer tokens in `Sec-WebSocket-Protocol: gearman.v1, bearer.<token>`: static, or HMAC-SHA256-signed and expiring (JWT-shaped). @module */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { knownKeys, type Principal, principalProblem } from "./policy.ts";

/** Decides who is connecting; `null` means "no or bad credentials" (HTTP 401). */
export type Verify = (req: IncomingMessage) => Promise<Principal | null>;

/** The claims of a signed token: a {@link Principal} whose id is `sub`, with a required expiry and an optional audience `aud`. */
export type TokenClaims = Omit<Principal, "id" | "exp"> & { sub: string; exp: number; aud?: string | undefined };

/** Options of the HMAC token check. */
export interface HmacOptions {
  /** The shared secret (at least 32 bytes of randomness). */ secret: string | Uint8Array;
  /** When set, tokens must carry this `aud`. */ audience?: string | undefined;
}

const b64url = (b: Uint8Array | string): string => Buffer.from(b).toString("base64url");
const json = (part: string): unknown => JSON.parse(Buffer.from(part, "base64url").toString());
const HEADER = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
const mac = (body: string, secret: string | Uint8Array): Buffer => createHmac("sha256", secret).update(body).digest();
const sha256 = (s: string): string => createHash("sha256").update(s).digest("hex");

/**
 * Signs claims into a token for {@link tokenVerifier} (HS256, JWT-shaped); the issuer (your web back end) calls this.
 * `exp` is in seconds since the epoch; the bridge refuses the token after it (HTTP 401) and closes connections made
 * with it with 4401. Claims are not checked here: a token with a bad principal is refused when it is used.
 * @example
 * ```ts
 * const token = signToken({ sub: "alice", roles: ["client"], submit: ["tenantA.*"], exp: Date.now() / 1000 + 600 }, secret);
 * ```
 */
export function signToken(claims: TokenClaims, secret: string | Uint8Array): string {
  const body = `${HEADER}.${b64url(JSON.stringify(claims))}`;
  return `${body}.${b64url(mac(body, secret))}`;
}

/** The principal of a signed token, or null when its signature, header, audience, expiry or principal is wrong. */
function verifySignedToken(token: string, { secret, audience }: HmacOptions): Principal | null {
  const [h = "", p = "", s = "", ...more] = token.split(".");
  const want = mac(`${h}.${p}`, secret), got = Buffer.from(s, "base64url");
  if (more.length > 0 || got.length !== want.length || !timingSafeEqual(got, want)) return null;
  try {
    const c = json(p) as TokenClaims;
    if ((json(h) as { alg?: string }).alg !== "HS256" || !(c.exp * 1000 > Date.now())) return null;
    const who: Principal = { id: c.sub, roles: c.roles, submit: c.submit ?? [], register: c.register ?? [], exp: c.exp, allowEpoch: c.allowEpoch === true };
    return (audience === undefined || c.aud === audience) && !principalProblem(who) ? who : null;
  } catch {
    return null;
  }
}

/**
 * The built-in `verify`: the bearer token (subprotocol `bearer.<token>`) as a static token, looked up by hash so that
 * lookup time says nothing about it, or, when `hmac` is given, as a signed token (refused when its `sub` is the id of a
 * static token's principal: it would share that principal's uniques and caps).
 * @throws {TypeError} for a static token's principal that is unusable or has an unknown key.
 * @example
 * ```ts
 * const verify = tokenVerifier({ tokens: { "s3cret": { id: "svc", roles: ["worker"], register: ["resize"] } } });
 * ```
 */
export function tokenVerifier({ tokens = {}, hmac }: { tokens?: Record<string, Principal> | undefined; hmac?: HmacOptions | undefined }): Verify {
  const byHash = new Map(Object.entries(tokens).map(([token, principal]) => {
    const problem = principalProblem(principal);
    if (problem) throw new TypeError(problem);
    // A typo must not pass unseen: "expires" for "exp" would make a token meant to lapse valid for ever.
    knownKeys(principal, ["id", "roles", "submit", "register", "exp", "allowEpoch"], "principal key");
    return [sha256(token), principal];
  }));
  const staticIds = new Set([...byHash.values()].map((p) => p.id));
  return async (req) => {
    const token = req.headers["sec-websocket-protocol"]?.split(",").map((p) => p.trim()).find((p) => p.startsWith("bearer."))?.slice(7);
    const fixed = token ? byHash.get(sha256(token)) : undefined;
    const signed = !fixed && token && hmac ? verifySignedToken(token, hmac) : null;
    // A signed `sub` taken from user input ("svc") must not share a static principal's uniques and caps.
    return fixed ?? (signed && !staticIds.has(signed.id) ? signed : null);
  };
}
