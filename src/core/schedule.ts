// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * When deferred work runs: after this turn for a connection's batched writes, soon but fairly for
 * the in-memory pipe's deliveries. Each picks between a microtask and a task, for the reason given.
 * @module
 */

/**
 * Runs `fn` once this turn's I/O callbacks and microtasks are done: `setImmediate` where the
 * runtime has it (Node, Bun, Deno), a microtask elsewhere. Writers flush with it so that everything
 * a burst of reads and their promise continuations queue leaves in one write.
 */
export const afterThisTurn: (fn: () => void) => void =
  (globalThis as { setImmediate?: (fn: () => void) => void }).setImmediate ?? queueMicrotask;

// Deliveries run as microtasks (a setTimeout hop costs 1-4 ms, which made in-page job servers
// crawl), but every so often as a task, so that a busy pipe cannot starve timers and I/O.
const MICROTASKS_PER_TASK = 256;
let microtaskRun = 0;

/** Runs `fn` soon: as a microtask, but every 256th time as a task (the in-memory pipe's deliveries). */
export function later(fn: () => void): void {
  if (++microtaskRun < MICROTASKS_PER_TASK) {
    queueMicrotask(fn);
    return;
  }
  setTimeout(() => {
    microtaskRun = 0;
    fn();
  }, 0);
}
