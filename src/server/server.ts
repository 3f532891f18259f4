// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * The embedded job server: a Gearman server on the SDK's own protocol core that behaves as
 * gearmand 1.1.20 does, minus its bugs. It owns no sockets; hand it one {@link Transport} per
 * connection (TCP through `startServer` in `./node.ts`, or an in-memory pair in a browser page).
 * @module
 */
import type { Transport } from "../core/transport.ts";
import type { Packet } from "../protocol/packet.ts";
import { handleAdmin } from "./admin-commands.ts";
import { type ConnectionHandler, ServerConnection } from "./connection.ts";
import { handlePacket } from "./handlers.ts";
import { type JobServerOptions, type ResolvedServerOptions, resolveServerOptions } from "./options.ts";
import { JobQueue } from "./queue.ts";

/** Optional facts about an attached connection. */
export interface AttachInfo {
  /** The peer's address for admin `workers`. @default the host part of `transport.remote` */
  address?: string;
}

/** Counts for monitoring and tests. */
export interface JobServerStats {
  /** Open connections. */
  connections: number;
  /** Jobs queued or running. */
  jobs: number;
  /** Functions known. */
  functions: number;
}

function hostOf(remote: string): string {
  const rest = remote.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const bracket = /^\[([^\]]*)\]/.exec(rest);
  if (bracket) return bracket[1]!;
  const colon = rest.lastIndexOf(":");
  return (colon > 0 && rest.indexOf(":") === colon ? rest.slice(0, colon) : rest).replace(/\/.*$/, "") || "-";
}

/**
 * A Gearman job server. Attach transports; every connection may act as client, worker and admin.
 * @example
 * ```ts
 * const server = new JobServer({ jobRetries: 3 });
 * // One pair per connection: a closed end stays closed, and the client connects again after a loss.
 * const client = new Client({ servers: ["memory"], connector: () => async () => {
 *   const [a, b] = createMemoryPair();
 *   server.attach(b);
 *   return a;
 * } });
 * ```
 */
export class JobServer {
  readonly #options: ResolvedServerOptions;
  readonly #queue: JobQueue;
  readonly #connections = new Set<ServerConnection>();
  readonly #handler: ConnectionHandler;
  #nextId = 1;
  #closed = false;

  /** A server with no connections yet; `options` are checked here and a bad one throws a `TypeError` (see {@link resolveServerOptions}). */
  constructor(options: JobServerOptions = {}) {
    this.#options = resolveServerOptions(options);
    this.#queue = new JobQueue(this.#options);
    const admin = {
      queue: this.#queue,
      options: this.#options,
      connections: (): ServerConnection[] => [...this.#connections].reverse(),
    };
    this.#handler = {
      packet: (conn: ServerConnection, p: Packet): void => {
        if (p.type === 0) handleAdmin(admin, conn, p.args[0]!);
        else handlePacket(this.#queue, conn, p);
      },
      closed: (conn: ServerConnection): void => {
        this.#connections.delete(conn);
        this.#queue.resetAbilities(conn);
        this.#queue.abandon(conn);
      },
    };
  }

  /** The options in effect, defaults filled in. */
  get options(): ResolvedServerOptions {
    return this.#options;
  }

  /** Current counts. */
  get stats(): JobServerStats {
    return { connections: this.#connections.size, jobs: this.#queue.jobs.size, functions: this.#queue.functions.size };
  }

  /** Serves one connection until either side closes it. After `close()`, the transport is closed at once. */
  attach(transport: Transport, info: AttachInfo = {}): void {
    if (this.#closed) {
      transport.close();
      return;
    }
    const conn = new ServerConnection(this.#nextId++, transport, info.address ?? hostOf(transport.remote), this.#options, this.#handler);
    this.#connections.add(conn);
    conn.start();
  }

  /** Closes every connection and stops every timer. Jobs are forgotten (there is no persistent queue). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const conn of [...this.#connections]) conn.close();
    this.#queue.close();
  }
}
