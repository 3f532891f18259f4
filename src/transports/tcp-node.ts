// Node only: node:net.
/**
 * Node TCP transport: TCP_NODELAY on, writes through `socket.write` (false = wait for 'drain'),
 * connect failures (ECONNREFUSED, ETIMEDOUT, …) as a `ConnectionError` with the cause.
 * @module
 */
import { connect as netConnect, type Socket } from "node:net";
import { ConnectionError } from "../errors.ts";
import type { Connector, Transport, TransportSink } from "../core/transport.ts";
import { parseServerAddress } from "./address.ts";

/** Options of {@link tcpConnector}. */
export interface TcpOptions {
  /** Milliseconds to wait for the TCP handshake. @default 10000 */
  connectTimeout?: number;
}

class NodeTcpTransport implements Transport {
  readonly remote: string;
  #socket: Socket;
  #done = false;

  constructor(socket: Socket, remote: string) {
    this.#socket = socket;
    this.remote = remote;
  }

  start(sink: TransportSink): void {
    const s = this.#socket;
    let error: Error | undefined;
    // A plain Uint8Array view (no copy): a Buffer's slice() shares memory where Uint8Array's copies,
    // so payloads handed out as Buffers would behave differently from every other transport's.
    s.on("data", (chunk: Buffer) => sink.data(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    s.on("drain", () => sink.drain());
    s.on("error", (err) => {
      error = new ConnectionError(`connection to ${this.remote} failed: ${err.message}`, { cause: err, server: this.remote });
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
    // A peer that never answers FIN must not keep the socket open forever.
    setTimeout(() => this.#socket.destroy(), 2000).unref();
  }
}

/**
 * Wraps a connected socket, e.g. one a `node:net` server accepted, as a {@link Transport}.
 * @example
 * ```ts
 * createServer((socket) => jobServer.attach(wrapSocket(socket))).listen(4730);
 * ```
 */
export function wrapSocket(socket: Socket): Transport {
  socket.setNoDelay(true);
  const host = (socket.remoteAddress ?? "unknown").replace(/^::ffff:/, "");
  return new NodeTcpTransport(socket, `tcp://${host.includes(":") ? `[${host}]` : host}:${socket.remotePort ?? 0}`);
}

/** Splits `host:port`, `tcp://host:port` or `[::1]:port` into host and port. */
export const parseTcpAddress: (server: string) => { host: string; port: number } = parseServerAddress;

/**
 * A connector for one gearmand over TCP.
 * @example
 * ```ts
 * const transport = await tcpConnector("127.0.0.1:4730")();
 * ```
 */
export function tcpConnector(server: string, options: TcpOptions = {}): Connector {
  const { host, port } = parseTcpAddress(server);
  const remote = `tcp://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const timeout = options.connectTimeout ?? 10_000;
  return (signal?: AbortSignal) =>
    new Promise<Transport>((resolve, reject) => {
      const socket = netConnect({ host, port, noDelay: true });
      const fail = (err: Error): void => {
        cleanup();
        socket.destroy();
        reject(new ConnectionError(`cannot connect to gearmand at ${remote}: ${err.message}; is it running?`, { cause: err, server: remote }));
      };
      const onAbort = (): void => fail(new Error("connect aborted"));
      const timer = setTimeout(() => fail(new Error(`no answer within ${timeout} ms`)), timeout);
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.off("error", fail);
        signal?.removeEventListener("abort", onAbort);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      socket.once("error", fail);
      socket.once("connect", () => {
        cleanup();
        socket.setNoDelay(true);
        resolve(new NodeTcpTransport(socket, remote));
      });
    });
}
