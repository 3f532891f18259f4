// Node only: node:net.
/**
 * Wraps a socket a `node:net` server accepted as a {@link Transport}, so that the embedded job
 * server (or any server-side code) can use it: TCP_NODELAY on, `write` false = wait for 'drain',
 * `pause`/`resume` map to the socket's flow control.
 * @module
 */
import type { Socket } from "node:net";
import type { Transport, TransportSink } from "../core/transport.ts";
import { ConnectionError } from "../errors.ts";

// A peer that never answers our FIN must not keep the socket open forever.
const CLOSE_GRACE_MS = 2000;

class AcceptedSocketTransport implements Transport {
  readonly remote: string;
  readonly #socket: Socket;
  #done = false;

  constructor(socket: Socket) {
    this.#socket = socket;
    const host = (socket.remoteAddress ?? "unknown").replace(/^::ffff:/, "");
    this.remote = `tcp://${host.includes(":") ? `[${host}]` : host}:${socket.remotePort ?? 0}`;
  }

  start(sink: TransportSink): void {
    const s = this.#socket;
    let error: Error | undefined;
    s.on("data", (chunk: Buffer) => sink.data(chunk));
    s.on("drain", () => sink.drain());
    s.on("error", (err) => {
      error = new ConnectionError(`connection from ${this.remote} failed: ${err.message}`, { cause: err, server: this.remote });
    });
    s.on("close", () => {
      if (this.#done) return;
      this.#done = true;
      sink.closed(error);
    });
  }

  write(bytes: Uint8Array<ArrayBuffer>): boolean {
    if (this.#socket.destroyed) return true;
    return this.#socket.write(bytes);
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  close(): void {
    if (this.#socket.destroyed) return;
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref();
  }
}

/**
 * Wraps an accepted socket.
 * @example
 * ```ts
 * createServer((socket) => jobServer.attach(wrapSocket(socket))).listen(4730);
 * ```
 */
export function wrapSocket(socket: Socket): Transport {
  socket.setNoDelay(true);
  return new AcceptedSocketTransport(socket);
}
