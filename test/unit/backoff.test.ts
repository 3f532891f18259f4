// Node: the reconnect back-off (backoffDelay in src/core/events.ts) stays in its documented range, alone and in a Worker.
import { afterEach, describe, expect, it, vi } from "vitest";
import { backoffDelay } from "../../src/core/events.ts";
import { DEFAULT_RECONNECT_BASE, DEFAULT_RECONNECT_CAP } from "../../src/core/options.ts";
import { Worker } from "../../src/node.ts";
import { JobServer } from "../../src/server/mod.ts";
import { createMemoryPair } from "../../src/transports/memory.ts";
import { rng } from "../support/random.ts";

// Documented (events.ts TSDoc, options.ts, README): a random delay in [c/2, c], c = min(cap, base·2^attempt);
// a worker refused by policy retries "between half and all of maxReconnectDelay: 2.5-5 s by default".
const ceiling = (attempt: number, base: number, cap: number): number => Math.min(cap, base * 2 ** attempt);

afterEach(() => vi.restoreAllMocks());

/** Samples `backoffDelay` `n` times per attempt with Math.random drawn from a seeded PRNG. */
function sample(seed: number, attempts: number, n: number, base: number, cap: number): { min: number; max: number; mean: number }[] {
  vi.spyOn(Math, "random").mockImplementation(rng(seed));
  return Array.from({ length: attempts }, (_, attempt) => {
    let min = Infinity, max = -Infinity, sum = 0;
    for (let i = 0; i < n; i++) {
      const d = backoffDelay(attempt, base, cap);
      min = Math.min(min, d);
      max = Math.max(max, d);
      sum += d;
    }
    return { min, max, mean: sum / n };
  });
}

describe("backoffDelay: exponential back-off with jitter in [c/2, c]", () => {
  it.each([
    { base: DEFAULT_RECONNECT_BASE, cap: DEFAULT_RECONNECT_CAP, seed: 1 },
    { base: 50, cap: 200, seed: 2 },
    { base: 1, cap: 2 ** 20, seed: 3 },
    { base: 300, cap: 300, seed: 4 },
  ])("base $base, cap $cap: 2,000 draws per attempt 0..40 stay in [c/2, c], spread over the range, capped", ({ base, cap, seed }) => {
    const stats = sample(seed, 41, 2000, base, cap);
    stats.forEach(({ min, max, mean }, attempt) => {
      const c = ceiling(attempt, base, cap);
      expect(min, `attempt ${attempt} min`).toBeGreaterThanOrEqual(c / 2);
      expect(max, `attempt ${attempt} max`).toBeLessThanOrEqual(c);
      expect(max, `attempt ${attempt} max`).toBeLessThanOrEqual(cap);
      // Jitter, not a fixed delay: the draws reach both ends of the range and centre on 3c/4.
      expect(min, `attempt ${attempt} min near c/2`).toBeLessThan(c / 2 + c * 0.01);
      expect(max, `attempt ${attempt} max near c`).toBeGreaterThan(c - c * 0.01);
      expect(Math.abs(mean - 0.75 * c), `attempt ${attempt} mean`).toBeLessThan(c * 0.02);
    });
    // Doubles until the cap, then stays there.
    const firstCapped = stats.findIndex((_, a) => base * 2 ** a >= cap);
    for (let a = 1; a < firstCapped; a++) expect(ceiling(a, base, cap)).toBe(2 * ceiling(a - 1, base, cap));
    for (let a = Math.max(firstCapped, 0); a <= 40; a++) {
      expect(stats[a]!.max).toBeLessThanOrEqual(cap);
      expect(stats[a]!.min).toBeGreaterThanOrEqual(cap / 2);
    }
  });

  it("the ends of the random source map to exactly c/2 and (just under) c; huge attempt counts stay finite and capped", () => {
    const r = vi.spyOn(Math, "random");
    for (const attempt of [0, 1, 5, 6, 30, 31, 1023, 1e6, Number.MAX_SAFE_INTEGER]) {
      const c = ceiling(attempt, DEFAULT_RECONNECT_BASE, DEFAULT_RECONNECT_CAP);
      r.mockReturnValue(0);
      expect(backoffDelay(attempt, DEFAULT_RECONNECT_BASE, DEFAULT_RECONNECT_CAP)).toBe(c / 2);
      r.mockReturnValue(1 - 2 ** -53);
      const top = backoffDelay(attempt, DEFAULT_RECONNECT_BASE, DEFAULT_RECONNECT_CAP);
      expect(top).toBeLessThanOrEqual(c);
      expect(top).toBeGreaterThan(c * 0.999);
      expect(Number.isFinite(top)).toBe(true);
    }
    // The defaults: 50-100 ms first, 2.5-5 s once capped (README).
    r.mockReturnValue(0);
    expect(backoffDelay(0, DEFAULT_RECONNECT_BASE, DEFAULT_RECONNECT_CAP)).toBe(50);
    expect(backoffDelay(30, DEFAULT_RECONNECT_BASE, DEFAULT_RECONNECT_CAP)).toBe(2500);
    r.mockReturnValue(1 - 2 ** -53);
    expect(backoffDelay(0, DEFAULT_RECONNECT_BASE, DEFAULT_RECONNECT_CAP)).toBeCloseTo(100, 6);
    expect(backoffDelay(30, DEFAULT_RECONNECT_BASE, DEFAULT_RECONNECT_CAP)).toBeCloseTo(5000, 6);
  });
});

describe("a Worker's reconnect schedule", () => {
  it("retries a server that refuses every attempt with delays in [c/2, c] for attempt k (base 4 ms, cap 64 ms)", async () => {
    const base = 4, cap = 64;
    const server = new JobServer();
    const delays: number[] = [];
    const attemptsAt: number[] = [];
    const worker = new Worker({
      servers: ["good", "bad"], reconnectDelay: base, maxReconnectDelay: cap,
      logger: {
        debug: (m) => {
          const d = /^reconnect to bad in (\d+) ms/.exec(m);
          if (d) delays.push(Number(d[1]));
        },
        warn: () => {}, error: () => {},
      },
      connector: (name) => async () => {
        if (name === "bad") {
          attemptsAt.push(performance.now());
          throw new Error("refused");
        }
        const [a, b] = createMemoryPair();
        server.attach(b);
        return a;
      },
    });
    worker.defineFunction("f", () => "ok");
    try {
      await worker.start();
      const deadline = Date.now() + 3000;
      while (delays.length < 14 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    } finally {
      await worker.stop({ graceful: false });
      server.close();
    }
    expect(delays.length).toBeGreaterThanOrEqual(14);
    // The log rounds the delay: allow ±0.5 ms.
    delays.forEach((d, k) => {
      const c = ceiling(k, base, cap);
      expect(d, `attempt ${k}`).toBeGreaterThanOrEqual(Math.floor(c / 2) - 0.5);
      expect(d, `attempt ${k}`).toBeLessThanOrEqual(c + 0.5);
    });
    // The retries really wait that long: each gap is at least the delay announced for it, less 3 ms (the log rounds,
    // and Node starts a timer from the event loop's cached clock, so it may fire a millisecond early by performance.now).
    for (let k = 1; k < Math.min(attemptsAt.length, delays.length); k++) {
      expect(attemptsAt[k]! - attemptsAt[k - 1]!, `gap before attempt ${k}`).toBeGreaterThanOrEqual(delays[k - 1]! - 3);
    }
    // Once capped (attempt 4 on: 64 ms), every delay is 32-64 ms: it neither keeps growing nor resets.
    expect(Math.max(...delays.slice(4))).toBeLessThanOrEqual(cap + 0.5);
    expect(Math.min(...delays.slice(4))).toBeGreaterThanOrEqual(cap / 2 - 0.5);
  }, 10_000);
});
