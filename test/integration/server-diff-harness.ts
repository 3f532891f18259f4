// Node (tests): runs one scripted raw-packet scenario against a server over TCP and records a
// normalized transcript, so that gearmand and the embedded server can be compared step by step.
import { afterAll, beforeAll, expect, it } from "vitest";
import { RawPeer, type Reply } from "../unit/server/raw-peer.ts";
import { startServer, type RunningServer, type StartServerOptions } from "../../src/server/node.ts";
import { startGearmand, type Gearmand } from "../support/gearmand.ts";
import type { PacketArg } from "../../src/protocol/packet.ts";
import { PacketType } from "../../src/protocol/packet-types.ts";

/** A server a scenario runs against. */
export interface Target {
  readonly kind: "gearmand" | "embedded";
  readonly port: number;
}

/** One connection inside a scenario. */
export interface ScenarioPeer {
  send(type: number, args?: readonly PacketArg[], magic?: "req" | "res"): ScenarioPeer;
  raw(data: Uint8Array | string): ScenarioPeer;
  close(): Promise<void>;
}

/** What a scenario script gets. */
export interface Session {
  readonly target: Target;
  /** Opens a labelled connection. */
  peer(label: string): Promise<ScenarioPeer>;
  /** A function name (or unique) private to this scenario. */
  fn(name: string): string;
  /** The real handle this server gave for the k-th distinct handle seen (1-based). */
  h(k: number): string;
  /** How many distinct handles have been seen so far. */
  handles(): number;
  /**
   * Waits until the server has handled everything sent so far and delivered every packet it
   * produced (two rounds of ECHO barriers on every open connection), then records what each
   * connection received.
   */
  settle(): Promise<void>;
  /** Records a note in the transcript (e.g. which phase follows). */
  note(text: string): void;
}

/** A scripted scenario. */
export type Scenario = (s: Session) => Promise<void>;

const HANDLE = /H:[^:|\s"\\]+:\d+/g;

class Recorder implements Session {
  readonly target: Target;
  readonly transcript: string[] = [];
  readonly #prefix: string;
  readonly #peers: Array<[string, RawPeer]> = [];
  readonly #handles = new Map<string, number>();
  readonly #real: string[] = [];
  #seen = 0;
  #syncs = 0;

  constructor(target: Target, prefix: string) {
    this.target = target;
    this.#prefix = prefix;
  }

  async peer(label: string): Promise<ScenarioPeer> {
    const p = await RawPeer.tcp(this.target.port);
    this.#peers.push([label, p]);
    const wrap: ScenarioPeer = {
      send: (type, args = [], magic = "req") => (p.send(type, args, magic), wrap),
      raw: (data) => (p.raw(data), wrap),
      close: async () => {
        p.close();
        await p.closedPromise;
        // The server learns of the close asynchronously; give it a moment before the next barrier.
        await new Promise((r) => setTimeout(r, 30));
      },
    };
    return wrap;
  }

  fn(name: string): string {
    return `${this.#prefix}${name}`;
  }

  h(k: number): string {
    const real = this.#real[k - 1];
    if (real === undefined) throw new Error(`handle #${k} not seen yet on ${this.target.kind}; transcript: ${this.transcript.join("\n")}`);
    return real;
  }

  handles(): number {
    return this.#real.length;
  }

  note(text: string): void {
    this.transcript.push(`-- ${text}`);
  }

  async settle(): Promise<void> {
    // Round one proves every connection's earlier packets were handled; round two proves that
    // what those packets caused on other connections was delivered ahead of the second echo.
    for (let round = 0; round < 2; round++) {
      const marker = `\u0001sync${++this.#syncs}`;
      const live = this.#peers.filter(([, p]) => !p.closed);
      for (const [, p] of live) p.send(PacketType.ECHO_REQ, [marker]);
      await Promise.all(live.map(([, p]) => p.until((r) => r === `ECHO_RES ${marker}` || r === "CLOSED")));
    }
    for (const [label, p] of this.#peers) {
      const replies = this.#normalize(p.drain().filter((r) => !r.startsWith("ECHO_RES \u0001sync")));
      if (replies.length > 0) this.transcript.push(`${label}: ${replies.join(" ; ")}`);
    }
  }

  async end(): Promise<void> {
    for (const [, p] of this.#peers) p.close();
    await Promise.all(this.#peers.map(([, p]) => p.closedPromise));
  }

  #handle(real: string): string {
    let k = this.#handles.get(real);
    if (k === undefined) {
      k = ++this.#seen;
      this.#handles.set(real, k);
      this.#real.push(real);
    }
    return `H#${k}`;
  }

  #normalize(replies: Reply[]): string[] {
    const out: string[] = [];
    let list: string[] | undefined;
    for (const r of replies) {
      if (!r.startsWith("TEXT ")) {
        out.push(r.replace(HANDLE, (h) => this.#handle(h)));
        continue;
      }
      const line = JSON.parse(r.slice(5)) as string;
      if (list === undefined && /^(OK|ERR)\b/.test(line)) {
        out.push(`TEXT ${JSON.stringify(line)}`);
        continue;
      }
      list ??= [];
      if (line !== ".\n") {
        list.push(line);
        continue;
      }
      // Admin lists: keep this scenario's rows only (the servers are shared by every scenario of
      // a file), hide file descriptors, and sort (gearmand orders rows by hash bucket).
      const rows = list
        .filter((l) => l.includes(this.#prefix) || [...l.matchAll(HANDLE)].some((m) => this.#handles.has(m[0])))
        .map((l) => l.replace(/^\d+ /, "<fd> ").replace(HANDLE, (h) => this.#handle(h)))
        .sort();
      out.push(`LIST[${rows.map((l) => JSON.stringify(l)).join(", ")}]`);
      list = undefined;
    }
    if (list) out.push(`PARTIAL-LIST[${list.join(",")}]`);
    return out;
  }
}

let scenarioCounter = 0;

/** Runs a scenario against one target; returns the normalized transcript. */
export async function record(target: Target, scenario: Scenario, prefix?: string): Promise<string[]> {
  const rec = new Recorder(target, prefix ?? `s${++scenarioCounter}-`);
  try {
    await scenario(rec);
    await rec.settle();
  } finally {
    await rec.end();
  }
  return rec.transcript;
}

/**
 * Runs a scenario on gearmand and on the embedded server with the same private prefix; returns
 * both transcripts.
 */
export async function compare(
  gearmand: Target,
  embedded: Target,
  scenario: Scenario,
): Promise<{ theirs: string[]; ours: string[]; prefix: string }> {
  const prefix = `s${++scenarioCounter}-`;
  const theirs = await record(gearmand, scenario, prefix);
  const ours = await record(embedded, scenario, prefix);
  return { theirs, ours, prefix };
}

/** Replaces the first occurrence of `from` in a transcript line (asserting it is there) to state a documented difference. */
export function patch(transcript: string[], from: string, to: string): string[] {
  const i = transcript.findIndex((l) => l.includes(from));
  if (i < 0) throw new Error(`expected gearmand's transcript to contain ${JSON.stringify(from)} (a documented difference); got:\n${transcript.join("\n")}`);
  const out = [...transcript];
  out[i] = out[i]!.replace(from, to);
  return out;
}

/** Test helpers bound to one gearmand and one embedded server, started for the calling file. */
export interface ServerPair {
  /** The running gearmand (for its pid). */
  gearmand(): Gearmand;
  /** A scenario whose transcript must be the same on both servers. */
  same(name: string, scenario: Scenario, timeoutMs?: number): void;
  /** A documented difference: `check` asserts what each server does. */
  differs(name: string, scenario: Scenario, check: (theirs: string[], ours: string[], prefix: string) => void, timeoutMs?: number): void;
}

/** Starts gearmand (with `args`) and the embedded server (with `options`) for this test file; returns their targets. */
export function serverPairTargets(args: string[] = [], options: StartServerOptions = {}): () => [Target, Target] & { gearmand: Gearmand } {
  let gearmand: Gearmand | undefined;
  let embedded: RunningServer | undefined;
  beforeAll(async () => {
    [gearmand, embedded] = await Promise.all([startGearmand({ args: ["--threads=0", ...args], real: true }), startServer({ port: 0, name: "vm", ...options })]);
  });
  afterAll(async () => {
    await Promise.all([gearmand?.stop(), embedded?.close()]);
  });
  return () =>
    Object.assign([{ kind: "gearmand", port: gearmand!.port }, { kind: "embedded", port: embedded!.port }] as [Target, Target], {
      gearmand: gearmand!,
    });
}

/** Starts gearmand (with `args`) and the embedded server (with `options`) for this test file. */
export function serverPair(args: string[] = [], options: StartServerOptions = {}): ServerPair {
  const targets = serverPairTargets(args, options);
  return {
    gearmand: () => targets().gearmand,
    same(name, scenario, timeoutMs) {
      it(name, async () => {
        const [g, e] = targets();
        const { theirs, ours } = await compare(g, e, scenario);
        if (process.env.DUMP_TRANSCRIPTS) console.log(`${name}\n  ${ours.join("\n  ")}`);
        expect(ours).toEqual(theirs);
      }, timeoutMs);
    },
    differs(name, scenario, check, timeoutMs) {
      it(name, async () => {
        const [g, e] = targets();
        const { theirs, ours, prefix } = await compare(g, e, scenario);
        check(theirs, ours, prefix);
      }, timeoutMs);
    },
  };
}
