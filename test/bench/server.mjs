// The embedded job server (src/server/node.ts startServer) in its own process, for the bench.
//   node --expose-gc test/bench/server.mjs --url=MODULE_URL     prints "READY <port>"
// Each stdin line "mem" answers one JSON line: heap and RSS after a full GC.
import { createInterface } from "node:readline";
import { parseArgs, rss } from "./lib.mjs";

const a = parseArgs();
const { startServer } = await import(a.url);
const srv = await startServer({ port: 0, host: "127.0.0.1" });
process.stdout.write(`READY ${srv.port}\n`);
const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (line.trim() === "mem") {
    globalThis.gc?.();
    globalThis.gc?.();
    const m = process.memoryUsage();
    process.stdout.write(`${JSON.stringify({ heap: m.heapUsed + m.external, heapUsed: m.heapUsed, rss: rss().rss })}\n`);
  }
});
const stop = async () => {
  await Promise.race([srv.close(), new Promise((r) => setTimeout(r, 500))]);
  process.exit(0);
};
process.on("SIGTERM", stop);
rl.on("close", stop);
