#!/usr/bin/env node
// Node only: the `gearman-bridge` command line (USAGE below).
/** The `gearman-bridge` command: prints the bound URL on stdout, one JSON log line per connection on stderr. @module */
import { readFileSync, realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { parseTcpAddress } from "../src/transports/tcp-node.ts";
import { type Bridge, type BridgeLimits, type BridgePolicy, startBridge } from "./bridge.ts";
import { knownKeys } from "./policy.ts";

/** The JSON policy file: a {@link BridgePolicy} without `verify`, whose HMAC secret may come from the environment (`secretEnv`). */
export type PolicyFile = Omit<BridgePolicy, "verify" | "hmac"> & {
  hmac?: { secret?: string; secretEnv?: string; audience?: string };
  limits?: BridgeLimits;
};

type Env = Record<string, string | undefined>;
const USAGE = "usage: gearman-bridge --policy policy.json [--listen 127.0.0.1:4731] [--upstream 127.0.0.1:4730] [--path /gearman] [--log-packets]";

/** Reads a policy file's text into the bridge's policy and limits; throws with the exact problem (principals are checked at start). */
export function parsePolicyFile(text: string, env: Env): { policy: BridgePolicy; limits: BridgeLimits } {
  const { hmac, limits = {}, ...policy } = JSON.parse(text) as PolicyFile;
  knownKeys({ ...policy, limits }, ["origins", "tokens", "hmac", "trustedProxies", "limits"], "policy file key");
  knownKeys(hmac ?? {}, ["secret", "secretEnv", "audience"], "hmac key");
  if (!hmac) return { policy, limits };
  const secret = hmac.secret ?? env[hmac.secretEnv ?? ""];
  if (!secret) throw new TypeError("hmac needs a secret, or secretEnv naming a set environment variable");
  return { policy: { ...policy, hmac: { secret, ...(hmac.audience ? { audience: hmac.audience } : {}) } }, limits };
}

/** Runs the command with these arguments; resolves to the running bridge (undefined after `--help`). */
export async function main(argv: string[] = process.argv.slice(2), env: Env = process.env): Promise<Bridge | undefined> {
  const { values: v } = parseArgs({ args: argv, options: {
    listen: { type: "string", default: "127.0.0.1:4731" }, upstream: { type: "string", default: "127.0.0.1:4730" },
    policy: { type: "string" }, path: { type: "string", default: "/gearman" }, help: { type: "boolean", short: "h" },
    "log-packets": { type: "boolean", default: false },
  } });
  if (v.help) return void console.log(USAGE);
  if (!v.policy) throw new TypeError(`--policy is required (a bridge without a policy would hand gearmand to every page)\n${USAGE}`);
  const file = parsePolicyFile(readFileSync(v.policy, "utf8"), env);
  // Port 0 (any free port) may be listened on, though not connected to.
  const listen = v.listen.endsWith(":0") ? { ...parseTcpAddress(v.listen.slice(0, -2)), port: 0 } : parseTcpAddress(v.listen);
  const bridge = await startBridge({ upstream: v.upstream, ...listen, path: v.path, logPackets: v["log-packets"], ...file });
  console.log(bridge.url);
  return bridge;
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main().then((bridge) => {
    const stop = (): void => void bridge?.close().then(() => process.exit(0));
    process.once("SIGINT", stop).once("SIGTERM", stop);
  }, (err: Error) => {
    console.error(`gearman-bridge: ${err.message}`);
    process.exit(1);
  });
}
