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
import { type Principal, principalProblem } from "./policy.ts";

/** The JSON policy file. Secrets may come from the environment (`hmac.secretEnv`) rather than the file. */
export interface PolicyFile {
  origins?: string[];
  trustedProxies?: string[];
  /** Static bearer token → principal. */
  tokens?: Record<string, Principal>;
  hmac?: { secret?: string; secretEnv?: string; audience?: string };
  limits?: BridgeLimits;
}

const USAGE = `usage: gearman-bridge --policy policy.json [--listen 127.0.0.1:4731] [--upstream 127.0.0.1:4730] [--path /gearman]`;

/** Reads a policy file's text into the bridge's policy and limits; throws with the exact problem. */
export function parsePolicyFile(text: string, env: Record<string, string | undefined>): { policy: BridgePolicy; limits: BridgeLimits } {
  const file = JSON.parse(text) as PolicyFile;
  for (const p of Object.values(file.tokens ?? {})) {
    const problem = principalProblem(p);
    if (problem) throw new TypeError(problem);
  }
  const policy: BridgePolicy = { origins: file.origins ?? [], trustedProxies: file.trustedProxies ?? [], tokens: file.tokens ?? {} };
  if (file.hmac) {
    const secret = file.hmac.secret ?? (file.hmac.secretEnv ? env[file.hmac.secretEnv] : undefined);
    if (!secret) throw new TypeError("hmac needs a secret, or secretEnv naming a set environment variable");
    policy.hmac = { secret, ...(file.hmac.audience ? { audience: file.hmac.audience } : {}) };
  }
  return { policy, limits: file.limits ?? {} };
}

/** Runs the command with these arguments; resolves to the running bridge. */
export async function main(argv: string[] = process.argv.slice(2), env: Record<string, string | undefined> = process.env): Promise<Bridge | undefined> {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: "string", default: "127.0.0.1:4731" },
      upstream: { type: "string", default: "127.0.0.1:4730" },
      policy: { type: "string" },
      path: { type: "string", default: "/gearman" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  if (!values.policy) throw new TypeError(`--policy is required (a bridge without a policy would hand gearmand to every page)\n${USAGE}`);
  const { policy, limits } = parsePolicyFile(readFileSync(values.policy, "utf8"), env);
  const { host, port } = parseTcpAddress(values.listen);
  const bridge = await startBridge({ upstream: values.upstream, host, port, path: values.path, policy, limits });
  console.log(bridge.url);
  return bridge;
}

const invoked = process.argv[1] ? pathToFileURL(realpathSync(process.argv[1])).href : "";
if (import.meta.url === invoked) {
  main().then((bridge) => {
    const stop = (): void => void bridge?.close().then(() => process.exit(0));
    process.once("SIGINT", stop).once("SIGTERM", stop);
  }, (err: Error) => {
    console.error(`gearman-bridge: ${err.message}`);
    process.exit(1);
  });
}
