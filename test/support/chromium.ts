// Node: launches the system Chromium through playwright-core for the browser tests, and collects
// console errors and page errors so that a test can fail on any of them.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

/** The system Chromium (apt-get install chromium); playwright's own downloads are never used. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Flags for a quiet, hermetic headless Chromium. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Where screenshots go (git-ignored). */
export const RESULTS_DIR: string = join(import.meta.dirname, "..", "results");

/** A running Chromium with a fresh profile. */
export interface Chromium {
  context: BrowserContext;
  /** Opens a tab that records console errors and uncaught page errors. */
  newPage(options?: { width?: number; height?: number }): Promise<Page>;
  /** Console and page errors of every tab so far, as "tab N: text". */
  errors: string[];
  /** Closes the browser and removes the profile. */
  close(): Promise<void>;
}

/** Launches Chromium with a new `--user-data-dir` (via launchPersistentContext, which owns that flag). */
export async function launchChromium(): Promise<Chromium> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} not found: install it with \`sudo apt-get install -y chromium\` (never \`npx playwright install\`)`);
  }
  const profile = mkdtempSync(join(tmpdir(), "gearman-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS],
    viewport: { width: 1280, height: 800 },
  });
  // launchPersistentContext opens a first blank tab; close it so tabs are only the test's.
  for (const p of context.pages()) await p.close();
  const errors: string[] = [];
  let tabs = 0;
  return {
    context,
    errors,
    async newPage(options = {}) {
      const page = await context.newPage();
      const tab = ++tabs;
      if (options.width || options.height) await page.setViewportSize({ width: options.width ?? 1280, height: options.height ?? 800 });
      page.on("console", (msg) => {
        if (msg.type() === "error") errors.push(`tab ${tab}: console.error: ${msg.text()} (${msg.location().url})`);
      });
      page.on("pageerror", (err) => errors.push(`tab ${tab}: uncaught: ${err.message}`));
      return page;
    },
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot as test/results/<name>.png and returns the path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name.replace(/[^\w.-]+/g, "-")}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
