// Node + Chromium: drives the playground page itself (playground/server.mjs: page server + bridge at
// /gearman) against each upstream: a gearmand it starts, and the embedded job server.
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from "vitest";
import { type Playground, startPlayground } from "../../playground/server.mjs";
import { PRESETS } from "../../playground/presets.ts";
import { type Chromium, launchChromium, screenshot } from "../support/chromium.ts";
import { startGearmand } from "../support/gearmand.ts";

const WAIT = 15_000;

async function open(chrome: Chromium, pg: Playground, size?: { width: number; height: number }): Promise<Page> {
  const page = await chrome.newPage(size);
  await page.goto(pg.url);
  await page.locator("body[data-ready=true]").waitFor({ timeout: WAIT });
  return page;
}

/** Picks a preset in the Workers panel and waits until each of its functions is served. */
async function startPreset(page: Page, id: string): Promise<void> {
  const preset = PRESETS.find((p) => p.id === id);
  if (!preset) throw new Error(`no preset ${id}`);
  // Playwright waits for animation frames, which a background tab does not get.
  await page.bringToFront();
  await page.getByLabel("Preset").selectOption(id);
  await page.getByRole("button", { name: "Start preset" }).click();
  for (const f of preset.functions) {
    await page.locator(`#functions tr[data-function="${f.name}"] .badge`, { hasText: "serving" }).waitFor({ timeout: WAIT });
  }
}

/** Fills the Client panel and submits. */
async function submit(
  page: Page,
  fn: string,
  payload: string,
  opts: { priority?: string; background?: boolean; unique?: string; timeLimit?: string } = {},
): Promise<void> {
  await page.bringToFront();
  await page.getByLabel("Function", { exact: true }).fill(fn);
  await page.getByLabel("Payload", { exact: true }).fill(payload);
  await page.getByLabel("Priority").selectOption(opts.priority ?? "normal");
  await page.getByLabel("Unique").fill(opts.unique ?? "");
  if (opts.timeLimit !== undefined) await page.getByLabel("Give up after (ms)").fill(opts.timeLimit);
  await page.getByLabel("Background").setChecked(opts.background ?? false);
  await page.getByRole("button", { name: "Submit", exact: true }).click();
}

/** Serves `slow` and `other` in the tab and starts a 4-step slow job: the neighbour a refused job must not disturb. */
async function slowJobBeside(page: Page, other: string): Promise<void> {
  await startPreset(page, "slow");
  await startPreset(page, other);
  await submit(page, "slow", "4");
  await page.locator('#tasks li.task[data-function="slow"]').first().locator("ol.events li", { hasText: "status 1/4" }).waitFor({ timeout: WAIT });
}

/** The task card of `fn` whose result line contains `text`, once it is there. */
async function taskResult(page: Page, fn: string, text: string): Promise<string> {
  const card = page.locator(`#tasks li.task[data-function="${fn}"]`).filter({ has: page.locator("output.result", { hasText: text }) });
  await card.first().waitFor({ timeout: WAIT });
  return await card.first().locator("output.result").innerText();
}

function wordCount(s: string): number {
  return s.split(/\s+/).filter(Boolean).length;
}

/**
 * One playground and one Chromium for a describe block, set up before its tests (read them as `s.pg`, `s.chrome`):
 * any console error or uncaught exception in any tab fails the test that caused it.
 */
function playgroundHooks(upstream: "gearmand" | "embedded"): { pg: Playground; chrome: Chromium } {
  const s = {} as { pg: Playground; chrome: Chromium };
  beforeAll(async () => {
    s.pg = await startPlayground({ port: 0, upstream, quiet: true });
    s.chrome = await launchChromium();
  });
  afterAll(async () => {
    await s.chrome?.close();
    await s.pg?.close();
  });
  afterEach(async () => {
    for (const p of s.chrome.context.pages()) await p.close();
    expect(s.chrome.errors.splice(0)).toEqual([]);
  });
  return s;
}

for (const upstream of ["gearmand", "embedded"] as const) {
  describe(`playground on ${upstream}`, () => {
    const s = playgroundHooks(upstream);

    test("says which job server it talks to", async () => {
      expect(s.pg.upstream.kind).toBe(upstream);
      const page = await open(s.chrome, s.pg);
      const text = await page.locator("#upstream").innerText();
      expect(text).toContain(upstream === "gearmand" ? "gearmand" : "embedded job server");
      expect(text).toContain(s.pg.upstream.address);
      expect(await page.locator("#upstream").getAttribute("data-kind")).toBe(upstream);
    });

    test("a preset worker serves a job submitted from the client panel; inspector and server panel", async () => {
      const page = await open(s.chrome, s.pg);
      await startPreset(page, "reverse");
      await submit(page, "reverse", "Hello, Gearman!");
      expect(await taskResult(page, "reverse", "Result:")).toBe("Result: !namraeG ,olleH");

      // The worker side of the same tab shows the job it ran.
      await page.locator('#jobs li.job[data-function="reverse"][data-state="complete"]').waitFor({ timeout: WAIT });

      // Packet inspector: the client's JOB_CREATED and the worker's WORK_COMPLETE, decoded, filterable.
      const log = page.locator("#packet-list");
      await log.locator('li[data-type="JOB_CREATED"]').first().waitFor({ timeout: WAIT });
      await log.locator('li[data-type="WORK_COMPLETE"]').first().waitFor({ timeout: WAIT });
      await page.getByLabel("Filter").fill("WORK_COMPLETE");
      const visible = log.locator("li:not([hidden])");
      expect(await visible.count()).toBeGreaterThan(0);
      for (const type of await visible.evaluateAll((els) => els.map((e) => e.getAttribute("data-type")))) {
        expect(type).toBe("WORK_COMPLETE");
      }
      const completed = log.locator('li.in.client[data-type="WORK_COMPLETE"]').filter({ hasText: "!namraeG" }).first();
      await completed.locator("summary").click();
      const hex = await completed.locator("pre.hex").innerText();
      expect(hex).toMatch(/^WORK_COMPLETE \(13\)/);
      expect(hex).toContain("00 52 45 53 00 00 00 0d"); // \0RES, type 13 on the client side
      await page.getByLabel("Filter").fill("JOB_CREATED");
      expect(await log.locator('li[data-type="JOB_CREATED"]:not([hidden])').count()).toBeGreaterThan(0);
      expect(await log.locator('li[data-type="SUBMIT_JOB"]:not([hidden])').count()).toBe(0);
      await page.getByLabel("Filter").fill("");

      // Server panel: the function with one worker, and this tab among the workers.
      const row = page.locator('#server-functions tr[data-function="reverse"]');
      await row.waitFor({ timeout: WAIT });
      await expect.poll(async () => (await row.locator("td").allInnerTexts()).at(-1), { timeout: WAIT }).toBe("1");
      await page.locator("#server-workers tr", { hasText: "(this tab)" }).waitFor({ timeout: WAIT });
      await screenshot(page, `playground-${upstream}-single-tab`);
    });

    test("map/reduce: word count with progress", async () => {
      const page = await open(s.chrome, s.pg);
      await startPreset(page, "wordcount");
      const wc = PRESETS.find((p) => p.id === "wordcount")!;
      const lines = wc.sample.payload.split("\n").filter((l) => l.trim() !== "").length;
      await page.getByRole("button", { name: "Submit map/reduce" }).click();
      const card = page.locator('#tasks li.task[data-function="wc.map"]').first();
      // Progress is visible while it runs (the reducers take 150 ms each, two at a time).
      await card.locator("progress:not([hidden])").waitFor({ timeout: WAIT });
      expect(await taskResult(page, "wc.map", "Result:")).toBe(`Result: ${wordCount(wc.sample.payload)}`);
      const events = await card.locator("ol.events li").allInnerTexts();
      expect(events[0]).toMatch(/^created /);
      expect(events.filter((e) => e.startsWith("status "))).toEqual(Array.from({ length: lines }, (_, i) => `status ${i + 1}/${lines}`));
      const [value, max] = await card.locator("progress").evaluate((p: HTMLProgressElement) => [p.value, p.max]);
      expect(value).toBe(lines);
      expect(max).toBe(lines);
      expect(await card.locator(".pct").innerText()).toBe("100 %");
      // Each line was one reducer job in this tab.
      await expect.poll(() => page.locator('#jobs li.job[data-function="wc.count"][data-state="complete"]').count(), { timeout: WAIT })
        .toBe(lines);
      await screenshot(page, `playground-${upstream}-map-reduce`);
    });

    test("the function editor: define, run, a syntax error, edit and redefine", async () => {
      const page = await open(s.chrome, s.pg);
      await page.getByText("Write or edit a function").click();
      await page.getByLabel("Function name").fill("shout");
      await page.getByLabel(/^Code/).fill('(job) => job.text() + "!"');
      await page.getByRole("button", { name: "Define and start" }).click();
      await page.locator('#functions tr[data-function="shout"] .badge', { hasText: "serving" }).waitFor({ timeout: WAIT });
      await submit(page, "shout", "hi");
      expect(await taskResult(page, "shout", "Result:")).toBe("Result: hi!");

      // Code that does not compile is reported on the page and changes nothing.
      await page.getByLabel(/^Code/).fill("(job) => {");
      await page.getByRole("button", { name: "Define and start" }).click();
      const alert = page.locator("#define-error");
      await alert.filter({ hasText: /\S/ }).waitFor({ timeout: WAIT });
      expect(await alert.getAttribute("role")).toBe("alert");
      await page.getByLabel(/^Code/).fill("42");
      await page.getByRole("button", { name: "Define and start" }).click();
      await alert.filter({ hasText: "must be a function" }).waitFor({ timeout: WAIT });

      // Edit loads the code back; redefining replaces the handler.
      await page.getByRole("button", { name: "Edit shout" }).click();
      expect(await page.getByLabel(/^Code/).inputValue()).toBe('(job) => job.text() + "!"');
      await page.getByLabel(/^Code/).fill('(job) => job.text() + "?"');
      await page.getByRole("button", { name: "Define and start" }).click();
      await alert.filter({ hasText: /^$/ }).waitFor({ state: "attached", timeout: WAIT });
      await submit(page, "shout", "really");
      expect(await taskResult(page, "shout", "really?")).toBe("Result: really?");
    });

    test("two tabs: one is the worker, the other the client", async () => {
      const workerTab = await open(s.chrome, s.pg);
      const clientTab = await open(s.chrome, s.pg);
      await startPreset(workerTab, "uppercase");
      await startPreset(workerTab, "slow");
      await startPreset(workerTab, "fail");
      await startPreset(workerTab, "throws");

      await submit(clientTab, "uppercase", "jobs flow between tabs");
      expect(await taskResult(clientTab, "uppercase", "Result:")).toBe("Result: JOBS FLOW BETWEEN TABS");
      await workerTab.locator('#jobs li.job[data-function="uppercase"][data-state="complete"]').waitFor({ timeout: WAIT });
      // The client tab only submitted: it never received a job assignment.
      expect(await clientTab.locator('#packet-list li[data-type^="JOB_ASSIGN"]').count()).toBe(0);
      expect(await workerTab.locator('#packet-list li[data-type^="JOB_ASSIGN"]').count()).toBeGreaterThan(0);

      await submit(clientTab, "slow", "4", { priority: "high" });
      const slow = clientTab.locator('#tasks li.task[data-function="slow"]').first();
      expect(await taskResult(clientTab, "slow", "Result:")).toBe("Result: done after 4 steps");
      expect((await slow.locator("ol.events li").allInnerTexts()).filter((e) => e.startsWith("status "))).toEqual([
        "status 1/4",
        "status 2/4",
        "status 3/4",
        "status 4/4",
      ]);
      const workerSlow = workerTab.locator('#jobs li.job[data-function="slow"][data-state="complete"]');
      await workerSlow.waitFor({ timeout: WAIT });
      expect(await workerSlow.locator("progress").evaluate((p: HTMLProgressElement) => p.value)).toBe(4);

      await submit(clientTab, "fail", "x");
      expect(await taskResult(clientTab, "fail", "Failed")).toBe("Failed (WORK_FAIL)");
      await submit(clientTab, "throws", "x");
      expect(await taskResult(clientTab, "throws", "Exception")).toBe('Exception: cannot handle "x"');

      await submit(clientTab, "uppercase", "later", { background: true, unique: "bg-1" });
      await clientTab.locator('#tasks li.task[data-function="uppercase"] .badge', { hasText: "queued (background)" }).waitFor({
        timeout: WAIT,
      });
      await workerTab.locator('#jobs li.job[data-function="uppercase"][data-state="complete"]', { hasText: "later" }).waitFor({
        timeout: WAIT,
      });

      // The client tab's server panel lists the worker tab.
      const workerId = await workerTab.locator("#tab-id").innerText();
      await clientTab.locator("#server-workers tr", { hasText: workerId }).waitFor({ timeout: WAIT });
      await screenshot(workerTab, `playground-${upstream}-worker-tab`);
      await screenshot(clientTab, `playground-${upstream}-client-tab`);

      // Stopping the function in the worker tab takes it off the server.
      await workerTab.getByRole("button", { name: "Stop uppercase" }).click();
      // (A server may also drop a function that has no workers and no jobs from `status`.)
      await expect.poll(
        async () => (await clientTab.locator('#server-functions tr[data-function="uppercase"] td').allInnerTexts()).at(-1) ?? "0",
        { timeout: WAIT },
      ).toBe("0");
    });

    test("keyboard only, labels, and a narrow screen", async () => {
      const page = await open(s.chrome, s.pg, { width: 390, height: 844 });
      // Every form control has a label.
      const unlabeled = await page.evaluate(() =>
        Array.from(document.querySelectorAll("input, select, textarea"))
          .filter((e) => (e as HTMLInputElement).labels?.length === 0 && !e.getAttribute("aria-label"))
          .map((e) => e.id)
      );
      expect(unlabeled).toEqual([]);
      // Keyboard: focus the preset menu, pick "uppercase" with the arrow keys, Tab to the button, Enter.
      await page.getByLabel("Preset").focus();
      await page.keyboard.press("ArrowDown");
      await page.keyboard.press("Tab");
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Start preset");
      await page.keyboard.press("Enter");
      await page.locator('#functions tr[data-function="uppercase"] .badge', { hasText: "serving" }).waitFor({ timeout: WAIT });
      await page.getByLabel("Function", { exact: true }).fill("uppercase");
      await page.getByLabel("Payload", { exact: true }).fill("typed");
      await page.getByLabel("Payload", { exact: true }).press("Control+Enter");
      expect(await taskResult(page, "uppercase", "Result:")).toBe("Result: TYPED");
      // Nothing wider than the screen.
      const [scrollWidth, clientWidth] = await page.evaluate(
        () => [document.documentElement.scrollWidth, document.documentElement.clientWidth],
      );
      expect(scrollWidth).toBeLessThanOrEqual(clientWidth);
      const overflowing = await page.evaluate(() =>
        Array.from(document.querySelectorAll(".panel")).filter((p) => p.scrollWidth > p.clientWidth).map((p) => p.className)
      );
      expect(overflowing).toEqual([]);
      await screenshot(page, `playground-${upstream}-narrow`);
    });
  });
}

describe("playground on GEARMAN_SERVERS", () => {
  test("uses the given job server and says so", async () => {
    const port = inject("gearmandPort");
    const pg = await startPlayground({ port: 0, upstream: `tcp://127.0.0.1:${port}`, quiet: true });
    const chrome = await launchChromium();
    try {
      expect(pg.upstream).toMatchObject({ kind: "external", address: `127.0.0.1:${port}` });
      const page = await open(chrome, pg);
      expect(await page.locator("#upstream").innerText()).toContain(`GEARMAN_SERVERS`);
      await startPreset(page, "reverse");
      await submit(page, "reverse", "abc");
      expect(await taskResult(page, "reverse", "Result:")).toBe("Result: cba");
      expect(chrome.errors).toEqual([]);
    } finally {
      await chrome.close();
      await pg.close();
    }
  });
});

describe("playground when its job server stops", () => {
  test("the server panel says so once, dims the last tables, and recovers when the job server is back", async () => {
    let g = await startGearmand();
    const pg = await startPlayground({ port: 0, upstream: `tcp://${g.address}`, quiet: true });
    const chrome = await launchChromium();
    try {
      const page = await open(chrome, pg);
      await startPreset(page, "reverse");
      await page.locator('#server-functions tr[data-function="reverse"]').waitFor({ timeout: WAIT });
      // Every change of the alert is announced: count them.
      await page.evaluate(() => {
        const w = window as unknown as { alertChanges: number };
        w.alertChanges = 0;
        new MutationObserver(() => w.alertChanges++).observe(document.getElementById("status-error")!, {
          childList: true,
          characterData: true,
          subtree: true,
        });
      });
      await g.stop();
      await page.locator("#status-error").filter({ hasText: "did not answer" }).waitFor({ timeout: WAIT });
      await page.locator("#server-panel[data-stale]").waitFor({ timeout: WAIT });
      expect(await page.locator("#status-time").innerText()).toMatch(/^Tables as of /);
      // Several failed polls later, the alert was written once.
      await page.waitForTimeout(3500);
      expect(await page.evaluate(() => (window as unknown as { alertChanges: number }).alertChanges)).toBe(1);

      g = await startGearmand({ port: g.port });
      await page.locator("#status-error").filter({ hasText: /^$/ }).waitFor({ state: "attached", timeout: WAIT });
      expect(await page.locator("#server-panel").getAttribute("data-stale")).toBeNull();
      expect(await page.locator("#status-time").innerText()).toMatch(/^Updated /);
    } finally {
      await chrome.close();
      await pg.close();
      await g.stop();
    }
  });
});

/** Defines a function in the editor and waits until it is served. */
async function define(page: Page, name: string, code: string, timeout = ""): Promise<void> {
  await page.bringToFront();
  await page.locator("#editor").evaluate((d: HTMLDetailsElement) => (d.open = true));
  await page.getByLabel("Function name").fill(name);
  await page.getByLabel(/^Code/).fill(code);
  await page.getByLabel("Timeout (ms)").fill(timeout);
  await page.getByRole("button", { name: "Define and start" }).click();
  await page.locator(`#functions tr[data-function="${name}"] .badge`, { hasText: "serving" }).waitFor({ timeout: WAIT });
}

/** Elements under `root` whose right edge passes the viewport's (the page would scroll sideways). */
function overflowing(page: Page, root = "body"): Promise<string[]> {
  return page.evaluate((sel) => {
    const vw = document.documentElement.clientWidth;
    return Array.from(document.querySelectorAll(`${sel} *`))
      .filter((el) => !el.closest(".visually-hidden, [hidden]"))
      .filter((el) => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && r.right > vw + 0.5;
      })
      .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}.${el.className}`);
  }, root);
}

describe("playground details (embedded job server)", () => {
  const s = playgroundHooks("embedded");

  test("a job given back (ERROR) is marked so when it comes again, and the job list keeps its cap of 50", async () => {
    const page = await open(s.chrome, s.pg);
    await startPreset(page, "reverse");
    // 55 quick jobs fill the list to its cap.
    await page.evaluate(() => {
      const form = document.getElementById("submit-form") as HTMLFormElement;
      for (let i = 0; i < 55; i++) {
        (document.getElementById("submit-fn") as HTMLInputElement).value = "reverse";
        (document.getElementById("submit-payload") as HTMLTextAreaElement).value = `r${i}`;
        form.requestSubmit();
      }
    });
    await expect.poll(() => page.locator('#jobs li.job[data-state="complete"]').count(), { timeout: WAIT }).toBe(50);
    await define(page, "err", "(job) => GearmanReturn.ERROR");
    await submit(page, "err", "requeue me");
    const rows = page.locator('#jobs li.job[data-function="err"]');
    // The worker gives it back with a growing back-off (250 ms, 500 ms, …): three runs come within seconds.
    await expect.poll(() => rows.count(), { timeout: WAIT }).toBeGreaterThanOrEqual(3);
    expect(await rows.locator('.badge:text-is("running")').count()).toBeLessThanOrEqual(1);
    expect(await rows.filter({ hasText: "given back" }).count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator("#jobs li.job").count()).toBeLessThanOrEqual(50);
    await page.getByRole("button", { name: "Stop err" }).click();
    await expect.poll(() => rows.locator('.badge:text-is("running")').count(), { timeout: WAIT }).toBe(0);
  });

  test("a unique too long for the bridge's namespace is refused by the form; the tab's other jobs carry on", async () => {
    const page = await open(s.chrome, s.pg);
    await slowJobBeside(page, "reverse");
    // The page knows its principal, tab-<id>: the bridge stores `tab-<id>:<unique>`, at most 63 bytes.
    const tab = await page.locator("#tab-id").innerText();
    const limit = 63 - tab.length - 1;
    await submit(page, "reverse", "too long", { unique: "u".repeat(limit + 1) });
    expect(await page.locator("#submit-unique").evaluate((i: HTMLInputElement) => i.validity.valid)).toBe(false);
    expect(await page.locator("#unique-hint").innerText()).toContain(`${limit}`);
    expect(await page.locator('#tasks li.task[data-function="reverse"]').count()).toBe(0);
    await submit(page, "reverse", "just fits", { unique: "u".repeat(limit) });
    expect(await taskResult(page, "reverse", "Result:")).toBe("Result: stif tsuj");
    expect(await taskResult(page, "slow", "Result:")).toBe("Result: done after 4 steps");
  });

  test("a payload over the bridge's packet limit is refused in the page; the tab's other jobs carry on", async () => {
    const page = await open(s.chrome, s.pg);
    await slowJobBeside(page, "reverse");
    // 2 MiB through the form: the bridge takes packets of at most 1 MiB (a larger one closes the tab's connection, 1009).
    await page.getByLabel("Function", { exact: true }).fill("reverse");
    await page.getByLabel("Payload", { exact: true }).evaluate((t: HTMLTextAreaElement) => (t.value = "b".repeat(2 * 1024 * 1024)));
    await page.getByRole("button", { name: "Submit", exact: true }).click();
    const refused = await taskResult(page, "reverse", "Error");
    expect(refused).toContain("1 MiB");
    expect(refused).not.toContain("1009");
    expect(await page.locator("#payload-limit").innerText()).toContain("1 MiB");
    // The slow job on the same connection was not taken down with it.
    expect(await taskResult(page, "slow", "Result:")).toBe("Result: done after 4 steps");
    // Just under the limit goes through, both ways.
    await page.getByLabel("Payload", { exact: true }).evaluate((t: HTMLTextAreaElement) => (t.value = `${"c".repeat(1_000_000)}d`));
    await page.getByRole("button", { name: "Submit", exact: true }).click();
    expect(await taskResult(page, "reverse", "Result: dcc")).toMatch(/^Result: dc+$/);
  });

  test("a result over the bridge's packet limit fails its job with the reason; the tab's worker stays connected", async () => {
    const page = await open(s.chrome, s.pg);
    await startPreset(page, "reverse");
    // A function whose result (2 MiB) is over the bridge's 1 MiB: without the limit on the page's Worker, the bridge
    // closed its connection (1009) and gearmand handed the job out again, for ever.
    await page.evaluate(() => (globalThis as unknown as { playground: { worker: { defineFunction(n: string, f: () => Uint8Array): void } } })
      .playground.worker.defineFunction("too.big", () => new Uint8Array(2 * 1024 * 1024)));
    await submit(page, "too.big", "x");
    expect(await taskResult(page, "too.big", "Failed")).toMatch(/over maxPacketSize/);
    await submit(page, "reverse", "abc");
    expect(await taskResult(page, "reverse", "Result:")).toBe("Result: cba");
  });

  test("Give up after and Stop waiting end a task nobody answers; Clear finished then removes it", async () => {
    const page = await open(s.chrome, s.pg);
    await submit(page, "nobody.answers", "x", { timeLimit: "1000" });
    const timed = page.locator('#tasks li.task[data-function="nobody.answers"]').first();
    await timed.locator(".badge", { hasText: "timed out" }).waitFor({ timeout: WAIT });
    expect(await timed.locator("output.result").innerText()).toMatch(/within 1000 ms.*still on the server/);

    await submit(page, "nobody.answers", "y", { timeLimit: "" });
    const waiting = page.locator('#tasks li.task[data-function="nobody.answers"]').first();
    await waiting.locator(".badge", { hasText: /^queued$/ }).waitFor({ timeout: WAIT });
    await waiting.getByRole("button", { name: /^Stop waiting for / }).click();
    await waiting.locator(".badge", { hasText: "stopped waiting" }).waitFor({ timeout: WAIT });
    expect(await waiting.getByRole("button", { name: /^Stop waiting for / }).count()).toBe(0);

    // A time limit that is not a number of ms is refused by the form.
    await page.getByLabel("Give up after (ms)").fill("-5");
    expect(await page.locator("#submit-timeout").evaluate((i: HTMLInputElement) => i.validity.valid)).toBe(false);
    await page.getByLabel("Give up after (ms)").fill("");

    await page.getByRole("button", { name: "Clear finished" }).click();
    expect(await page.locator("#tasks li.task").count()).toBe(0);
  });

  test("each packet's size sits on that packet's row", async () => {
    const page = await open(s.chrome, s.pg);
    await submit(page, "nobody", "x");
    await submit(page, "nobody", "a somewhat longer payload here", { priority: "high" });
    await page.locator('#packet-list li[data-type="JOB_CREATED"]').nth(1).waitFor({ timeout: WAIT });
    for (const width of [1280, 600, 360]) {
      await page.setViewportSize({ width, height: 800 });
      const misplaced = await page.locator("#packet-list li").evaluateAll((lis) =>
        lis.filter((li) => {
          const row = li.querySelector("summary")!.getBoundingClientRect();
          const size = li.querySelector(".size")!.getBoundingClientRect();
          return size.top < row.top - 0.5 || size.bottom > row.bottom + 0.5 || size.right > row.right + 0.5;
        }).map((li) => li.dataset.type)
      );
      expect(misplaced, `at ${width} px`).toEqual([]);
    }
  });

  test("badges say what the page knows: queued until a worker is heard of, status answers, why a job failed", async () => {
    const page = await open(s.chrome, s.pg);
    // No worker for it: the server has the job, nobody runs it.
    await submit(page, "nobody.here", "x");
    const nobody = page.locator('#tasks li.task[data-function="nobody.here"]').first();
    await nobody.locator(".badge", { hasText: /^queued$/ }).waitFor({ timeout: WAIT });
    await nobody.getByRole("button", { name: /Get the status of/ }).click();
    await nobody.locator("ol.events li", { hasText: "get status: queued" }).waitFor({ timeout: WAIT });
    expect(await nobody.locator(".badge").innerText()).toBe("queued");

    // A background job: Get status updates its badge, running, then finished.
    await startPreset(page, "slow");
    await submit(page, "slow", "6", { background: true });
    const bg = page.locator('#tasks li.task[data-function="slow"]').first();
    await bg.locator(".badge", { hasText: "queued (background)" }).waitFor({ timeout: WAIT });
    await page.locator('#jobs li.job[data-function="slow"] .badge', { hasText: "running" }).waitFor({ timeout: WAIT });
    await bg.getByRole("button", { name: /Get the status of/ }).click();
    await bg.locator(".badge", { hasText: /^running( \d+\/6)? \(background\)$/ }).waitFor({ timeout: WAIT });
    await page.locator('#jobs li.job[data-function="slow"][data-state="complete"]').waitFor({ timeout: WAIT });
    await bg.getByRole("button", { name: /Get the status of/ }).click();
    await bg.locator(".badge", { hasText: "finished (background)" }).waitFor({ timeout: WAIT });

    // A handler that returns no payload: the job says what the SDK logged.
    await define(page, "objecty", "(job) => ({ not: 'a payload' })");
    await submit(page, "objecty", "x");
    expect(await taskResult(page, "objecty", "Failed")).toBe("Failed (WORK_FAIL)");
    const failed = page.locator('#jobs li.job[data-function="objecty"][data-state="failed"]');
    await failed.waitFor({ timeout: WAIT });
    expect(await failed.locator(".detail").innerText()).toContain("not a payload");
  });

  test("when the bridge goes away, the worker and its functions say so", async () => {
    const own = await startPlayground({ port: 0, upstream: "embedded", quiet: true });
    try {
      const page = await open(s.chrome, own);
      await startPreset(page, "reverse");
      expect(await page.locator("#worker-state").innerText()).toBe("running");
      await own.close();
      await page.locator("#worker-state", { hasText: "disconnected" }).waitFor({ timeout: WAIT });
      await page.locator('#functions tr[data-function="reverse"] .badge', { hasText: "offline" }).waitFor({ timeout: WAIT });
    } finally {
      await own.close();
      // The browser reports each failed reconnect and status poll on the console: expected here.
      const expected = /WebSocket connection to|Failed to load resource|ERR_CONNECTION_REFUSED/;
      s.chrome.errors.push(...s.chrome.errors.splice(0).filter((e) => !expected.test(e)));
    }
  });

  test("narrow screens: long names wrap, labels stay with their controls, wide enough number fields", async () => {
    const page = await open(s.chrome, s.pg, { width: 1280, height: 900 });
    const long = "a.really.long.function.name.that.goes.on.and.on.and.on";
    await define(page, long, "(job) => job.text()", "10000");
    await submit(page, long, "x");
    await taskResult(page, long, "Result:");
    for (const width of [320, 360, 600]) {
      await page.setViewportSize({ width, height: 900 });
      expect(await page.evaluate(() => document.documentElement.scrollWidth), `scrollWidth at ${width} px`).toBeLessThanOrEqual(width);
      expect(await overflowing(page), `at ${width} px`).toEqual([]);
      // A label and its control share a line.
      for (const id of ["submit-fn", "submit-priority", "submit-unique", "submit-timeout", "reduce-fn", "reduce-reducer", "fn-timeout", "concurrency"]) {
        const apart = await page.locator(`#${id}`).evaluate((el: HTMLInputElement) => {
          const c = el.getBoundingClientRect();
          const l = el.labels![0]!.getBoundingClientRect();
          return Math.abs((c.top + c.bottom) / 2 - (l.top + l.bottom) / 2);
        });
        expect(apart, `#${id} and its label at ${width} px`).toBeLessThan(8);
      }
    }
    // "10000" fits in the Timeout field.
    const [need, has] = await page.locator("#fn-timeout").evaluate((el: HTMLInputElement) => {
      const probe = document.createElement("span");
      probe.style.font = getComputedStyle(el).font;
      probe.textContent = el.value;
      document.body.append(probe);
      const w = probe.getBoundingClientRect().width;
      probe.remove();
      const cs = getComputedStyle(el);
      // The spin buttons take about 1.2em of the content box.
      return [w + 1.2 * parseFloat(cs.fontSize), el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)];
    });
    expect(need).toBeLessThanOrEqual(has);
    // The Concurrency note is visible.
    expect(await page.locator("#concurrency-note").isVisible()).toBe(true);
    const box = await page.locator("#concurrency-note").boundingBox();
    expect(box!.width).toBeGreaterThan(20);
  });
});
