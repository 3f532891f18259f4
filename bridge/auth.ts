// Node only: node:crypto. Authentication of the bridge at the WebSocket upgrade (spec/bridge.md §2.1 items 1-2).
/**
 * Bearer tokens carried in `Sec-WebSocket-Protocol: gearman.v1, bearer.<token>`: static tokens
 * and HMAC-SHA256-signed expiring tokens (JWT-shaped, base64url without padding).
 * @module
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { type Principal, principalProblem, type Role } from "./policy.ts";

/** Decides who is connecting; `null` means "no or bad credentials" (HTTP 401). */
export type Verify = (req: IncomingMessage) => Promise<Principal | null>;

/** The claims of a signed token. */
export interface TokenClaims {
  /** The principal id. */
  sub: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
  /** One role, or several. */
  role?: Role;
  roles?: Role[];
  /** Functions it may submit / register (exact names or `prefix.*`). */
  submit?: string[];
  register?: string[];
  /** Audience; checked when the verifier is given one. */
  aud?: string;
  allowEpoch?: boolean;
}

/** Options of the HMAC token check. */
export interface HmacOptions {
  /** The shared secret (at least 32 bytes of randomness). */
  secret: string | Uint8Array;
  /** When set, tokens must carry this `aud`. */
  audience?: string;
}

const b64url = (b: Uint8Array | string): string => Buffer.from(b).toString("base64url");
const HEADER = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));

/**
 * Signs claims into a token for {@link hmacVerifier}; the issuer (your web back end) calls this.
 * @example
 * ```ts
 * const token = signToken({ sub: "alice", role: "client", submit: ["tenantA.*"], exp: Date.now() / 1000 + 600 }, secret);
 * ```
 */
export function signToken(claims: TokenClaims, secret: string | Uint8Array): string {
  const body = `${HEADER}.${b64url(JSON.stringify(claims))}`;
  return `${body}.${b64url(createHmac("sha256", secret).update(body).digest())}`;
}

/** Checks a signed token; returns the principal, or null when the signature, header, audience or expiry is wrong. */
export function verifySignedToken(token: string, options: HmacOptions): Principal | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  const [h, p, s] = parts as [string, string, string];
  const want = createHmac("sha256", options.secret).update(`${h}.${p}`).digest();
  const got = Buffer.from(s, "base64url");
  if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
  let claims: TokenClaims;
  try {
    if (JSON.parse(Buffer.from(h, "base64url").toString()).alg !== "HS256") return null;
    claims = JSON.parse(Buffer.from(p, "base64url").toString()) as TokenClaims;
  } catch {
    return null;
  }
  if (typeof claims.exp !== "number" || claims.exp * 1000 <= Date.now()) return null;
  if (options.audience !== undefined && claims.aud !== options.audience) return null;
  const principal: Principal = {
    id: claims.sub,
    roles: claims.roles ?? (claims.role ? [claims.role] : []),
    submit: claims.submit ?? [],
    register: claims.register ?? [],
    exp: claims.exp,
    allowEpoch: claims.allowEpoch === true,
  };
  return principalProblem(principal) ? null : principal;
}

/** The bearer token of an upgrade request: subprotocol `bearer.<token>`, else `Authorization: Bearer`. */
export function tokenFromRequest(req: IncomingMessage): string | undefined {
  for (const p of (req.headers["sec-websocket-protocol"] ?? "").split(",")) {
    const t = p.trim();
    if (t.startsWith("bearer.")) return t.slice(7);
  }
  const auth = req.headers.authorization;
  return auth?.startsWith("Bearer ") ? auth.slice(7).trim() : undefined;
}

const sha256 = (s: string): string => createHash("sha256").update(s).digest("hex");

/**
 * The built-in `verify`: static tokens (looked up by hash, so lookup time says nothing about the
 * token) and, when `hmac` is given, signed tokens.
 * @example
 * ```ts
 * const verify = tokenVerifier({ tokens: { "s3cret": { id: "svc", roles: ["worker"], register: ["resize"] } } });
 * ```
 */
export function tokenVerifier(options: { tokens?: Record<string, Principal>; hmac?: HmacOptions }): Verify {
  const byHash = new Map<string, Principal>();
  for (const [token, principal] of Object.entries(options.tokens ?? {})) {
    const problem = principalProblem(principal);
    if (problem) throw new TypeError(problem);
    byHash.set(sha256(token), principal);
  }
  return async (req) => {
    const token = tokenFromRequest(req);
    if (!token) return null;
    const known = byHash.get(sha256(token));
    if (known) return known;
    return options.hmac ? verifySignedToken(token, options.hmac) : null;
  };
}
