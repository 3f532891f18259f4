// Node: the W3C WebSocket transport against a loopback `ws` server (Node 20 has no global WebSocket).
import { afterEach, describe, expect, test } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import type { Transport, TransportSink } from "../../src/core/transport.ts";
import { ConnectionError, InvalidArgumentError, PolicyError } from "../../src/errors.ts";
import { type WebSocketConstructor, websocketConnector } from "../../src/transports/websocket.ts";

// The ws class fits the transport's constructor type without a cast.
const WS: WebSocketConstructor = WebSocket;

let servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers) {
    for (const c of s.clients) c.terminate();
    await new Promise((r) => s.close(r));
  }
  servers = [];
});

async function server(onConnection: (ws: WebSocket, protocols: string[]) => void): Promise<string> {
  const offered: string[][] = [];
  const s = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    perMessageDeflate: false,
    handleProtocols: (p) => (offered.push([...p]), p.has("gearman.v1") ? "gearman.v1" : false),
  });
  s.on("connection", (ws) => onConnection(ws, offered.shift() ?? []));
  await new Promise((r) => s.once("listening", r));
  servers.push(s);
  return `ws://127.0.0.1:${(s.address() as { port: number }).port}/gearman`;
}

interface Recorder extends TransportSink {
  chunks: Uint8Array[];
  drains: number;
  closed: (error?: Error) => void;
  done: Promise<Error | undefined>;
}

function recorder(): Recorder {
  let resolve!: (e: Error | undefined) => void;
  const r: Recorder = {
    chunks: [],
    drains: 0,
    data: (c) => r.chunks.push(c),
    drain: () => r.drains++,
    closed: (e) => resolve(e),
    done: new Promise((res) => (resolve = res)),
  };
  return r;
}

async function open(url: string, options: Parameters<typeof websocketConnector>[1] = {}): Promise<[Transport, Recorder]> {
  const t = await websocketConnector(url, { WebSocket: WS, ...options })();
  const r = recorder();
  t.start(r);
  return [t, r];
}

const until = async (cond: () => boolean, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe("websocket transport", () => {
  test("binary round trip; token and gearman.v1 offered as subprotocols", async () => {
    let offered: string[] = [];
    const url = await server((ws, p) => {
      offered = p;
      ws.on("message", (d, isBinary) => ws.send(d, { binary: isBinary }));
    });
    const [t, r] = await open(url, { token: "abc-DEF_123" });
    expect(offered).toEqual(["gearman.v1", "bearer.abc-DEF_123"]);
    expect(t.remote).toBe(url);
    expect(t.write(new Uint8Array([0, 1, 2, 255]))).toBe(true);
    await until(() => r.chunks.length === 1);
    expect(r.chunks[0]).toBeInstanceOf(Uint8Array);
    expect([...r.chunks[0]!]).toEqual([0, 1, 2, 255]);
    t.close();
    expect(await r.done).toBeUndefined();
  });

  test("a token with characters browsers reject is refused before connecting", () => {
    expect(() => websocketConnector("ws://127.0.0.1:1/", { WebSocket: WS, token: "a+b/c=" })).toThrow(InvalidArgumentError);
  });

  test("no WebSocket in the runtime → a helpful error", () => {
    const g = globalThis as { WebSocket?: unknown };
    const saved = g.WebSocket;
    delete g.WebSocket;
    try {
      expect(() => websocketConnector("ws://127.0.0.1:1/")).toThrow(/pass \{ WebSocket \}/);
    } finally {
      if (saved) g.WebSocket = saved;
    }
  });

  test.each([
    [1008, "packet type 1 not allowed for client"],
    [1009, "too big"],
    [1002, "half a packet"],
    [1003, "binary only"],
    [4401, "token expired"],
  ])("close %i → PolicyError with the code and reason", async (code, reason) => {
    const url = await server((ws) => ws.once("message", () => ws.close(code, reason)));
    const [t, r] = await open(url);
    t.write(new Uint8Array([1]));
    const err = await r.done;
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).closeCode).toBe(code);
    expect((err as PolicyError).reason).toBe(reason);
  });

  test("other closes → ConnectionError carrying the code and reason", async () => {
    const url = await server((ws) => setTimeout(() => ws.close(1011, "the connection to gearmand closed"), 10));
    const [, r] = await open(url);
    const err = await r.done;
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err?.message).toMatch(/1011.*gearmand closed/);
    const url2 = await server((ws) => setTimeout(() => ws.terminate(), 10));
    const [, r2] = await open(url2);
    expect((await r2.done)?.message).toMatch(/1006/);
  });

  test("connect failures → ConnectionError: refused port, HTTP 401, abort", async () => {
    const s = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((r) => s.once("listening", r));
    const port = (s.address() as { port: number }).port;
    await new Promise((r) => s.close(r));
    await expect(websocketConnector(`ws://127.0.0.1:${port}/`, { WebSocket: WS })()).rejects.toBeInstanceOf(ConnectionError);
    const { createServer } = await import("node:http");
    const http = createServer();
    http.on("upgrade", (_req, socket) => socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"));
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    const url = `ws://127.0.0.1:${(http.address() as { port: number }).port}/`;
    await expect(websocketConnector(url, { WebSocket: WS })()).rejects.toThrow(/cannot connect.*401/);
    const ac = new AbortController();
    ac.abort();
    await expect(websocketConnector(url, { WebSocket: WS })(ac.signal)).rejects.toThrow(/aborted/);
    http.close();
  });


  test("a WebSocket constructor that throws (bad URL, blocked port, no permission) → ConnectionError with its cause", async () => {
    // The real ws class throws a SyntaxError for a URL it cannot read, as browsers do.
    const err = await websocketConnector("ws://bad host/", { WebSocket: WS })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).message).toMatch(/cannot connect to ws:\/\/bad host\/: the WebSocket constructor refused: /);
    expect((err as ConnectionError).cause).toBeInstanceOf(SyntaxError);
  });
  test("write returns false above the high-water mark, drain follows once the peer reads", async () => {
    let peer!: WebSocket;
    const url = await server((ws) => {
      peer = ws;
      ws.pause();
    });
    const [t] = await open(url, { highWaterMark: 64 << 10 });
    const r = recorder();
    (t as unknown as { start(s: TransportSink): void }).start(r);
    const chunk = new Uint8Array(256 << 10);
    let writes = 0;
    while (t.write(chunk)) if (++writes > 1000) throw new Error("write never returned false");
    expect(r.drains).toBe(0);
    peer.resume();
    await until(() => r.drains === 1);
    t.close();
  });

  test("pause holds messages, resume delivers them in order; a text frame closes with an error", async () => {
    let peer!: WebSocket;
    const url = await server((ws) => (peer = ws));
    const [t, r] = await open(url);
    t.pause();
    for (let i = 0; i < 3; i++) peer.send(new Uint8Array([i]));
    await new Promise((res) => setTimeout(res, 50));
    expect(r.chunks.length).toBe(0);
    t.resume();
    expect(r.chunks.map((c) => c[0])).toEqual([0, 1, 2]);
    peer.send("status\n");
    expect((await r.done)?.message).toMatch(/text frame/);
  });
});
