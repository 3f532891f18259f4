// Node: one test's gearmand with a bridge in front of it, and raw peers of both; each registers its own cleanup.
import type { Server } from "node:http";
import { type Bridge, type BridgeLimits, type BridgeLogEntry, type BridgePolicy, startBridge } from "../../bridge/bridge.ts";
import { type Gearmand, startGearmand } from "./gearmand.ts";
import { openPeer, type PeerOptions, type TcpPeer, tcpPeer, type WsPeer } from "./peers.ts";

/** A gearmand, the bridge to it, and the bridge's log lines. */
export interface BridgeEnv {
  g: Gearmand;
  b: Bridge;
  logs: BridgeLogEntry[];
}

/** What a test runs after it, last registered first. */
export type Cleanups = (() => Promise<void> | void)[];

/** Starts gearmand (`args`; `real` for gearmand even in the embedded-server run) and a bridge with `policy` and `limits`. */
export async function bridgeEnv(cleanups: Cleanups, o: {
  policy: BridgePolicy; limits?: BridgeLimits; args?: string[]; server?: Server; real?: boolean;
}): Promise<BridgeEnv> {
  const g = await startGearmand({ args: o.args ?? ["--threads=0"], real: o.real });
  cleanups.push(() => g.stop());
  const logs: BridgeLogEntry[] = [];
  const b = await startBridge({ upstream: g.address, policy: o.policy, limits: o.limits ?? {}, logger: (e) => logs.push(e), server: o.server });
  cleanups.push(() => b.close());
  return { g, b, logs };
}

/** A WebSocket peer of the bridge with this bearer token. */
export async function bridgePeer(cleanups: Cleanups, env: BridgeEnv, token: string, o: PeerOptions = {}): Promise<WsPeer> {
  const p = await openPeer(env.b.url, { token, ...o });
  cleanups.push(() => p.ws.terminate());
  return p;
}

/** A raw TCP peer of the gearmand behind the bridge (a trusted back end). */
export async function gearmandPeer(cleanups: Cleanups, env: BridgeEnv): Promise<TcpPeer> {
  const p = await tcpPeer(env.g.port);
  cleanups.push(() => p.close());
  return p;
}
