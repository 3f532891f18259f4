#!/usr/bin/env node
// Node only: the `gearman-bridge` command.
/**
 * `gearman-bridge --listen 127.0.0.1:4731 --upstream 127.0.0.1:4730 --policy policy.json`
 * Prints the bound URL on stdout, one JSON log line per connection on stderr.
 * @module
 */
import { readFileSync, realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { parseTcpAddress } from "../src/transports/tcp-node.ts";
import { type Bridge, type BridgeLimits, type BridgePolicy, startBridge } from "./bridge.ts";
import type { Principal } from "./policy.ts";

/** The JSON policy file. Secrets may come from the environment (`hmac.secretEnv`) rather than the file. */
export interface PolicyFile {
  origins?: string[];
  trustedProxies?: string[];
  /** Static bearer token → principal. */ tokens?: Record<string, Principal>;
  hmac?: { secret?: string; secretEnv?: string; audience?: string };
  limits?: BridgeLimits;
}

type Env = Record<string, string | undefined>;
const USAGE = "usage: gearman-bridge --policy policy.json [--listen 127.0.0.1:4731] [--upstream 127.0.0.1:4730] [--path /gearman]";

/** Reads a policy file's text into the bridge's policy and limits; throws with the exact problem (principals are checked at start). */
export function parsePolicyFile(text: string, env: Env): { policy: BridgePolicy; limits: BridgeLimits } {
  const { origins = [], trustedProxies = [], tokens = {}, hmac, limits = {} } = JSON.parse(text) as PolicyFile;
  const policy: BridgePolicy = { origins, trustedProxies, tokens };
  if (hmac) {
    const secret = hmac.secret ?? (hmac.secretEnv ? env[hmac.secretEnv] : undefined);
    if (!secret) throw new TypeError("hmac needs a secret, or secretEnv naming a set environment variable");
    policy.hmac = { secret, ...(hmac.audience ? { audience: hmac.audience } : {}) };
  }
  return { policy, limits };
}

/** Runs the command with these arguments; resolves to the running bridge. */
export async function main(argv: string[] = process.argv.slice(2), env: Env = process.env): Promise<Bridge | undefined> {
  const { values } = parseArgs({ args: argv, options: {
    listen: { type: "string", default: "127.0.0.1:4731" }, upstream: { type: "string", default: "127.0.0.1:4730" },
    policy: { type: "string" }, path: { type: "string", default: "/gearman" }, help: { type: "boolean", short: "h" },
  } });
  if (values.help) return void console.log(USAGE);
  if (!values.policy) throw new TypeError(`--policy is required (a bridge without a policy would hand gearmand to every page)\n${USAGE}`);
  const { policy, limits } = parsePolicyFile(readFileSync(values.policy, "utf8"), env);
  const bridge = await startBridge({ upstream: values.upstream, ...parseTcpAddress(values.listen), path: values.path, policy, limits });
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
