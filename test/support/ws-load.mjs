// Node: opens N WebSocket connections to the bridge and sends one ECHO on each, in its own process so
// that the test process measures the bridge's memory alone. Driven over IPC by test/integration.
import { WebSocket } from "ws";

const [url, token, count] = process.argv.slice(2);
const n = Number(count);
// \0REQ ECHO_REQ(16), 4-byte body "ping"
const echo = Buffer.from([0, 0x52, 0x45, 0x51, 0, 0, 0, 16, 0, 0, 0, 4, 0x70, 0x69, 0x6e, 0x67]);

const t0 = performance.now();
const sockets = await Promise.all(
  Array.from({ length: n }, () =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, ["gearman.v1", `bearer.${token}`], { perMessageDeflate: false });
      ws.once("open", () => resolve(ws));
      ws.once("error", reject);
    })),
);
const openMs = performance.now() - t0;
const t1 = performance.now();
const replies = await Promise.all(
  sockets.map((ws) =>
    new Promise((resolve) => {
      ws.once("message", (data) => resolve(Buffer.from(data).subarray(12).toString()));
      ws.send(echo);
    })),
);
const echoMs = performance.now() - t1;
process.send({ openMs, echoMs, ok: replies.filter((r) => r === "ping").length });
process.on("message", (m) => {
  if (m !== "close") return;
  for (const ws of sockets) ws.close();
  setTimeout(() => process.exit(0), 300);
});
