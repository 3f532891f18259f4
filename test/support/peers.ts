// Node: raw Gearman peers for bridge tests: a WebSocket peer (ws package), a TCP peer, and admin commands.
import { connect, type Socket } from "node:net";
import { WebSocket } from "ws";
import { encodePacket, type PacketArg } from "../../src/protocol/packet.ts";
import { PacketDecoder } from "../../src/protocol/decoder.ts";
import type { Packet } from "../../src/protocol/packet.ts";
import { argText } from "../../src/protocol/packet.ts";

/** Packets as they arrive, awaitable one by one. */
class Inbox {
  packets: Packet[] = [];
  #waiters: { pred: (p: Packet) => boolean; resolve: (p: Packet) => void }[] = [];
  #decoder = new PacketDecoder({ expect: "res" });
  /** Messages received, and those that did not end at a packet boundary (re-framing check). */
  messages = 0;
  partial = 0;

  push(chunk: Uint8Array): void {
    this.messages++;
    const packets = this.#decoder.push(chunk);
    if (!this.#decoder.idle) this.partial++;
    for (const p of packets) {
      const i = this.#waiters.findIndex((w) => w.pred(p));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(p);
      else this.packets.push(p);
    }
  }

  get idle(): boolean {
    return this.#decoder.idle;
  }

  next(pred: (p: Packet) => boolean = () => true, ms = 5000): Promise<Packet> {
    const i = this.packets.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.packets.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching packet within ${ms} ms`)), ms);
      this.#waiters.push({ pred, resolve: (p) => (clearTimeout(t), resolve(p)) });
    });
  }
}

/** A raw WebSocket peer of the bridge. */
export interface WsPeer {
  ws: WebSocket;
  inbox: Inbox;
  send(type: number, args: readonly PacketArg[]): void;
  next(type?: number, ms?: number): Promise<Packet>;
  closed: Promise<{ code: number; reason: string }>;
}

/** Options of {@link openPeer}. */
export interface PeerOptions {
  token?: string;
  origin?: string;
  protocols?: string[];
  autoPong?: boolean;
  /** Extra request headers, e.g. `X-Forwarded-For`. */
  headers?: Record<string, string>;
}

function protocolsOf(o: PeerOptions): string[] {
  return o.protocols ?? ["gearman.v1", ...(o.token ? [`bearer.${o.token}`] : [])];
}

/** Opens a WebSocket peer; rejects with the HTTP status when the upgrade is refused. */
export function openPeer(url: string, o: PeerOptions = {}): Promise<WsPeer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocolsOf(o), {
      perMessageDeflate: false,
      autoPong: o.autoPong ?? true,
      ...(o.origin ? { origin: o.origin } : {}),
      ...(o.headers ? { headers: o.headers } : {}),
    });
    const inbox = new Inbox();
    const closed = new Promise<{ code: number; reason: string }>((res) => {
      ws.on("close", (code, reason) => res({ code, reason: reason.toString() }));
    });
    ws.on("message", (data: Buffer) => inbox.push(new Uint8Array(data)));
    ws.on("unexpected-response", (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.on("error", (err) => reject(err));
    ws.on("open", () =>
      resolve({
        ws,
        inbox,
        closed,
        send: (type, args) => ws.send(encodePacket(type, args)),
        next: (type, ms) => inbox.next(type === undefined ? undefined : (p) => p.type === type, ms),
      }));
  });
}

/** The HTTP status with which the bridge refuses an upgrade (or 101 when it accepts). */
export async function upgradeStatus(url: string, o: PeerOptions = {}): Promise<number> {
  try {
    const peer = await openPeer(url, o);
    peer.ws.terminate();
    return 101;
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
}

/** A raw TCP peer of gearmand (a trusted back-end worker or client). */
export interface TcpPeer {
  socket: Socket;
  inbox: Inbox;
  send(type: number, args: readonly PacketArg[]): void;
  next(type?: number, ms?: number): Promise<Packet>;
  close(): void;
}

/** Connects a raw TCP peer to gearmand. */
export function tcpPeer(port: number): Promise<TcpPeer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1", noDelay: true });
    const inbox = new Inbox();
    socket.on("data", (d: Buffer) => inbox.push(d));
    socket.once("error", reject);
    socket.once("connect", () =>
      resolve({
        socket,
        inbox,
        send: (type, args) => socket.write(encodePacket(type, args)),
        next: (type, ms) => inbox.next(type === undefined ? undefined : (p) => p.type === type, ms),
        close: () => socket.destroy(),
      }));
  });
}

/** Runs one admin text command against gearmand; returns the lines of a list response. */
export function admin(port: number, command: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: "127.0.0.1" });
    let text = "";
    s.on("data", (d) => {
      text += d.toString();
      if (text.endsWith(".\n") || (!/^(status|workers|show)/.test(command) && text.endsWith("\n"))) {
        s.destroy();
        resolve(text.split("\n").filter((l) => l !== "" && l !== "."));
      }
    });
    s.once("error", reject);
    s.write(`${command}\r\n`);
  });
}

/** Heap plus external (Buffer) bytes still reachable after a full GC: what a component really holds. */
export async function retainedBytes(): Promise<number> {
  const { setFlagsFromString } = await import("node:v8");
  const { runInNewContext } = await import("node:vm");
  setFlagsFromString("--expose_gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** Reads a process's resident set size in KiB from /proc. */
export async function rssKiB(pid: number): Promise<number> {
  const { readFileSync } = await import("node:fs");
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

export { argText };
