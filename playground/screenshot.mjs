#!/usr/bin/env node
// Node only: renders playground/screenshot.png (1280×800) for the README, with a few jobs in flight.
//   node playground/screenshot.mjs [--out file.png] [--upstream gearmand|embedded|host:port]
// Uses the system Chromium at /usr/bin/chromium through playwright-core.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { startPlayground } from "./server.mjs";

const { values } = parseArgs({ options: { out: { type: "string" }, upstream: { type: "string" } } });
const out = values.out ?? join(dirname(fileURLToPath(import.meta.url)), "screenshot.png");

const pg = await startPlayground({ port: 0, upstream: values.upstream, quiet: true });
const profile = mkdtempSync(join(tmpdir(), "playground-shot-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  viewport: { width: 1280, height: 800 },
  colorScheme: "light",
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(pg.url);
  await page.locator("body[data-ready=true]").waitFor();
  for (const id of ["reverse", "wordcount", "slow", "throws"]) {
    await page.getByLabel("Preset").selectOption(id);
    await page.getByRole("button", { name: "Start preset" }).click();
  }
  await page.locator('#functions tr[data-function="throws"] .badge', { hasText: "serving" }).waitFor();
  const submit = async (fn, payload) => {
    await page.getByLabel("Function", { exact: true }).fill(fn);
    await page.getByLabel("Payload", { exact: true }).fill(payload);
    await page.getByRole("button", { name: "Submit", exact: true }).click();
  };
  await submit("reverse", "Hello, Gearman!");
  await submit("throws", "this");
  await page.getByRole("button", { name: "Submit map/reduce" }).click();
  await page.locator('#tasks li.task[data-function="wc.map"] output.result', { hasText: "Result" }).waitFor();
  await submit("slow", "10");
  await page.getByLabel("Hide idle loop").check();
  // Mid-way through the slow job, so its progress bars are half full.
  await page.waitForFunction(() => (document.querySelector('#tasks li.task[data-function="slow"] progress')?.value ?? 0) >= 5);
  await page.screenshot({ path: out });
  if (errors.length) throw new Error(`console errors: ${errors.join("; ")}`);
  process.stdout.write(`wrote ${out} (${pg.upstream.kind})\n`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  await pg.close();
}
