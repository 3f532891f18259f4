// Node only: node:net.
/**
 * Node TCP transport: TCP_NODELAY on, writes through `socket.write` (false = wait for 'drain'),
 * connect failures (ECONNREFUSED, ETIMEDOUT, …) as a `ConnectionError` with the cause.
 * @module
 */
import { connect as netConnect, type Socket } from "node:net";
import { ConnectionError } from "../errors.ts";
import type { Connector, Transport, TransportSink } from "../core/transport.ts";
import { formatServerAddress, parseServerAddress, type TcpOptions } from "./address.ts";
import { connectAttempt } from "./attempt.ts";

export type { TcpOptions } from "./address.ts";

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
  return new NodeTcpTransport(socket, `tcp://${formatServerAddress(host, socket.remotePort ?? 0)}`);
}

/** Splits `host:port`, `tcp://host:port` or `[::1]:port` into host and port. */
export const parseTcpAddress: (server: string) => { host: string; port: number } = parseServerAddress;

/**
 * A connector for one gearmand over TCP (TCP_NODELAY on). Each call of the connector opens one connection; it
 * rejects with a `ConnectionError` when the connect fails, takes over `options.connectTimeout` ms (default 10000),
 * or its signal aborts.
 * @throws {InvalidArgumentError} for an address that is not `host:port`, `[ipv6]:port` or `tcp://host:port`.
 * @example
 * ```ts
 * const transport = await tcpConnector("127.0.0.1:4730")();
 * ```
 */
export function tcpConnector(server: string, options: TcpOptions = {}): Connector {
  const { host, port } = parseTcpAddress(server);
  const remote = `tcp://${formatServerAddress(host, port)}`;
  const timeout = options.connectTimeout ?? 10_000;
  return (signal?: AbortSignal) =>
    connectAttempt(signal, timeout, `no answer within ${timeout} ms`, (settle) => {
      const socket = netConnect({ host, port, noDelay: true });
      const fail = (why: string, cause: Error = new Error(why)): void => {
        socket.off("error", onError);
        socket.destroy();
        settle(new ConnectionError(`cannot connect to gearmand at ${remote}: ${why}; is it running?`, { cause, server: remote }));
      };
      const onError = (err: Error): void => fail(err.message, err);
      socket.once("error", onError);
      socket.once("connect", () => {
        socket.off("error", onError);
        socket.setNoDelay(true);
        settle(new NodeTcpTransport(socket, remote));
      });
      return fail;
    });
}
