// Node + Chromium: the bridge as a browser sees it (test-plan B1), mounted on the page's own HTTP server.
import { createServer, type Server } from "node:http";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type Bridge, startBridge } from "../../bridge/bridge.ts";
import { type Gearmand, startGearmand } from "../support/gearmand.ts";

let g: Gearmand;
let http: Server;
let bridge: Bridge;
let browser: Browser;
let port: number;

beforeAll(async () => {
  g = await startGearmand({ args: ["--threads=0"] });
  http = createServer((_req, res) => res.writeHead(200, { "Content-Type": "text/html" }).end("<!doctype html><title>t</title>"));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  port = (http.address() as { port: number }).port;
  bridge = await startBridge({
    upstream: g.address,
    server: http,
    policy: { origins: [`http://127.0.0.1:${port}`], tokens: { "tok-page": { id: "page", roles: ["client"], submit: ["web.*"] } } },
    logger: () => {},
  });
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
});

afterAll(async () => {
  await browser?.close();
  await bridge?.close();
  await new Promise((r) => http?.close(r));
  await g?.stop();
});

// Runs in the page: ECHO through the bridge, or the close code when the upgrade is refused.
const probe = ([url, protocols]: [string, string[]]): Promise<string> =>
  new Promise((resolve) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, protocols);
    } catch (e) {
      return resolve(`throws ${(e as Error).name}`);
    }
    ws.binaryType = "arraybuffer";
    ws.onopen = () => ws.send(new Uint8Array([0, 0x52, 0x45, 0x51, 0, 0, 0, 16, 0, 0, 0, 2, 0x68, 0x69]));
    ws.onmessage = (ev) => {
      const b = new Uint8Array(ev.data as ArrayBuffer);
      resolve(`echo ${ws.protocol} ${String.fromCharCode(...b.subarray(12))}`);
      ws.close();
    };
    ws.onclose = (ev) => resolve(`close ${ev.code}`);
  });

test("B1 in Chromium: ECHO with a token; bad token or foreign Origin → 1006; bad token characters throw", async () => {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  const url = bridge.url.replace(/:\d+\//, `:${port}/`);
  expect(await page.evaluate(probe, [url, ["gearman.v1", "bearer.tok-page"]] as [string, string[]])).toBe("echo gearman.v1 hi");
  expect(await page.evaluate(probe, [url, ["gearman.v1", "bearer.wrong"]] as [string, string[]])).toBe("close 1006");
  expect(await page.evaluate(probe, [url, ["gearman.v1", "bearer.a=b"]] as [string, string[]])).toBe("throws SyntaxError");
  const other = await browser.newPage();
  await other.goto(`http://localhost:${port}/`);
  expect(await other.evaluate(probe, [url, ["gearman.v1", "bearer.tok-page"]] as [string, string[]])).toBe("close 1006");
});
