// Node only: node:net, node:os.
/**
 * The embedded job server on TCP for Node: `startServer()` listens, wraps each accepted socket
 * and attaches it to a {@link JobServer}. Usable from a vitest globalSetup in place of gearmand.
 * @module
 */
import { createServer, type Server, type Socket } from "node:net";
import { hostname } from "node:os";
import { formatServerAddress } from "../transports/address.ts";
import { wrapSocket } from "../transports/tcp-node.ts";
import type { JobServerOptions } from "./options.ts";
import { JobServer } from "./server.ts";

export * from "./mod.ts";

/**
 * Options of {@link startServer}: where to listen, plus every {@link JobServerOptions} field. `startServer` sets
 * `name` to the host name and `pid` to `process.pid` unless they are given.
 */
export interface StartServerOptions extends JobServerOptions {
  /** Port to listen on; 0 picks a free one. @default 4730 */
  port?: number | undefined;
  /** Address to listen on. @default "127.0.0.1" */
  host?: string | undefined;
}

/** A listening job server. */
export interface RunningServer {
  /** The address it listens on. */
  readonly host: string;
  /** The port it listens on (the real one when 0 was asked for). */
  readonly port: number;
  /** `host:port`, ready for `new Client({ servers: [address] })`. */
  readonly address: string;
  /** The job server (options, stats). */
  readonly server: JobServer;
  /** The `node:net` listener. */
  readonly listener: Server;
  /** Stops listening, closes every connection, and resolves once the listener is closed. */
  close(): Promise<void>;
}

/**
 * Starts the embedded job server on TCP; resolves once it listens. Rejects with a `TypeError` for bad options (see
 * {@link resolveServerOptions}), and with the listener's error (e.g. `EADDRINUSE`) when it cannot listen.
 * @example
 * ```ts
 * const srv = await startServer({ port: 0 });
 * const client = new Client({ servers: [srv.address] });
 * // …
 * await srv.close();
 * ```
 */
export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const { port = 4730, host = "127.0.0.1", ...rest } = options;
  const server = new JobServer({ name: hostname().replace(/[^\x21-\x7e]/g, "").slice(0, 40) || undefined, pid: process.pid, ...rest });
  const sockets = new Set<Socket>();
  const listener = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    server.attach(wrapSocket(socket));
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(port, host, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  const addr = listener.address();
  const boundPort = typeof addr === "object" && addr ? addr.port : port;
  const boundHost = typeof addr === "object" && addr ? addr.address : host;
  let closing: Promise<void> | undefined;
  return {
    host: boundHost,
    port: boundPort,
    address: formatServerAddress(boundHost, boundPort),
    server,
    listener,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        listener.close(() => resolve());
        server.close();
        // Peers that do not close their end would hold the listener open.
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}
