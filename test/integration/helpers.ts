// Node: shared helpers of the integration suites (real gearmand). Not a test file.
import { inject } from "vitest";
import { WebSocket } from "ws";
import {
  AdminClient, Client, type ClientOptions, type Connector, type Logger, type Packet, type Transport, tcpConnector, websocketConnector,
  Worker, type WorkerOptions,
} from "../../src/node.ts";
import { type Gearmand, type GearmandOptions, startGearmand } from "../support/gearmand.ts";

/** The shared gearmand of the integration project. */
export function sharedServer(): string {
  return `127.0.0.1:${inject("gearmandPort")}`;
}

/** A function name unique to this run: `prefix_<random>`. */
export function fname(prefix: string): string {
  return `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
}

/** UTF-8 decode. */
export function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` every 10 ms until it is truthy; throws after `timeout` ms. */
export async function waitFor<T>(cond: () => T | Promise<T>, timeout = 5000, what = "condition"): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A promise with its resolve function. */
export interface Gate<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
}

/** Creates a {@link Gate}. */
export function gate<T = void>(): Gate<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A logger that keeps messages (so expected warnings do not clutter the output). */
export interface MemoryLogger extends Logger {
  messages: string[];
}

/** Creates a {@link MemoryLogger}. */
export function memoryLogger(): MemoryLogger {
  const messages: string[] = [];
  return {
    messages,
    debug: (m) => void messages.push(`debug: ${m}`),
    warn: (m) => void messages.push(`warn: ${m}`),
    error: (m) => void messages.push(`error: ${m}`),
  };
}

/** One packet seen by a `tap`. */
export interface Tapped {
  direction: "in" | "out";
  packet: Packet;
  server: string;
  at: number;
}

/** Collects packets through the `tap` option. */
export function tapper(): { packets: Tapped[]; tap: (d: "in" | "out", p: Packet, server: string) => void } {
  const packets: Tapped[] = [];
  return { packets, tap: (direction, packet, server) => void packets.push({ direction, packet, server, at: Date.now() }) };
}

/** Tracks what a test opened and closes it all afterwards. */
export class Resources {
  #clients: Client[] = [];
  #workers: Worker[] = [];
  #admins: AdminClient[] = [];
  #servers: Gearmand[] = [];
  #cleanups: (() => unknown)[] = [];

  client(options: Partial<ClientOptions> = {}): Client {
    const c = new Client({ servers: [sharedServer()], logger: memoryLogger(), ...options });
    this.#clients.push(c);
    return c;
  }

  worker(options: Partial<WorkerOptions> = {}): Worker {
    const w = new Worker({ servers: [sharedServer()], logger: memoryLogger(), ...options });
    this.#workers.push(w);
    return w;
  }

  admin(server: string = sharedServer()): AdminClient {
    const a = new AdminClient({ server });
    this.#admins.push(a);
    return a;
  }

  async gearmand(options: GearmandOptions = {}): Promise<Gearmand> {
    const g = await startGearmand(options);
    this.#servers.push(g);
    return g;
  }

  onCleanup(fn: () => unknown): void {
    this.#cleanups.push(fn);
  }

  async cleanup(): Promise<void> {
    const settle = (p: Promise<unknown>): Promise<unknown> => Promise.race([p.catch(() => {}), sleep(3000)]);
    for (const fn of this.#cleanups.splice(0)) await settle(Promise.resolve().then(fn));
    await Promise.all(this.#clients.splice(0).map((c) => settle(c.close())));
    await Promise.all(this.#workers.splice(0).map((w) => settle(w.stop({ graceful: false }))));
    await Promise.all(this.#admins.splice(0).map((a) => settle(a.close())));
    await Promise.all(this.#servers.splice(0).map((g) => settle(g.stop())));
  }
}

/** A TCP connector that keeps its transports, so that a test can cut them (the worker or client "dies"). */
export function killableConnector(): { connector: (server: string) => Connector; transports: Transport[] } {
  const transports: Transport[] = [];
  return {
    transports,
    connector: (server) => async (signal) => {
      const t = await tcpConnector(server)(signal);
      transports.push(t);
      return t;
    },
  };
}

/** A ws:// connector through a bridge that keeps its open WebSockets, so that a test can `terminate()` them (no close frame). */
export function trackedWs(token: string): { connector: (server: string) => Connector; sockets: WebSocket[] } {
  const sockets: WebSocket[] = [];
  class Tracked extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { perMessageDeflate: false });
      sockets.push(this);
      this.once("close", () => sockets.splice(sockets.indexOf(this), 1));
    }
  }
  return { sockets, connector: (server) => websocketConnector(server, { WebSocket: Tracked, token }) };
}
