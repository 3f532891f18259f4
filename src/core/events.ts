// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * A tiny typed listener set and a queue that turns pushed values into an async iterator, so every
 * stream of events can be consumed by callback or by `for await`. No node:events.
 * @module
 */

/**
 * Pushes values to one async iterator. Values pushed before iteration are kept; `end()` finishes
 * the iteration after the values already queued.
 */
export class QueuedIterator<T> implements AsyncIterableIterator<T> {
  #values: T[] = [];
  #waiting: ((r: IteratorResult<T> | Promise<IteratorResult<T>>) => void) | undefined;
  #ended = false;
  #error: Error | undefined;

  /** Adds a value. */
  push(value: T): void {
    if (this.#ended) return;
    const w = this.#waiting;
    if (w) {
      this.#waiting = undefined;
      w({ value, done: false });
    } else this.#values.push(value);
  }

  /** Ends the iteration once queued values are consumed; with `error`, the next call after them rejects with it. */
  end(error?: Error): void {
    this.#ended = true;
    this.#error = error;
    if (this.#values.length === 0 && this.#waiting) {
      const w = this.#waiting;
      this.#waiting = undefined;
      w(this.#finish());
    }
  }

  /** Next value. */
  next(): Promise<IteratorResult<T>> {
    if (this.#values.length > 0) return Promise.resolve({ value: this.#values.shift()!, done: false });
    if (this.#ended) return this.#finish();
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  /** Stops iterating; later values are dropped. */
  return(): Promise<IteratorResult<T>> {
    this.#ended = true;
    this.#values = [];
    this.#error = undefined;
    return this.#finish();
  }

  #finish(): Promise<IteratorResult<T>> {
    const error = this.#error;
    this.#error = undefined;
    return error ? Promise.reject(error) : Promise.resolve({ value: undefined, done: true });
  }

  /** The iterator itself: its items can be taken once. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}

/** A deferred promise: resolve and reject from outside. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/**
 * Creates a {@link Deferred}. A rejection is marked handled so an unobserved failure is not a crash;
 * the mark is made when rejecting, so a promise that resolves costs no extra promise or reaction.
 */
export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let rej!: (e: unknown) => void;
  const promise = new Promise<T>((res, r) => {
    resolve = res;
    rej = r;
  });
  const reject = (e: unknown): void => {
    promise.catch(ignore);
    rej(e);
  };
  return { promise, resolve, reject };
}

function ignore(): void {}

/** Exponential back-off with jitter: a random delay in [c/2, c], where c = min(cap, base·2^attempt). */
export function backoffDelay(attempt: number, base: number, cap: number): number {
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** Runs user code (a listener, a tap) whose throw must not cut the SDK's work short: it surfaces as an uncaught exception, as an EventEmitter listener's would. */
export function guarded<A extends unknown[]>(fn: (...args: A) => unknown, ...args: A): void {
  try {
    fn(...args);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

/** `logger` with every method still called as its method (pino's need their `this`) and unable to throw into the SDK's state changes. */
export const quietLogger = (logger: Logger): Logger =>
  new Proxy(logger, {
    // Absent methods stay absent, so that `logger.debug?.(…)` builds no message nobody reads.
    get: (l, k: keyof Logger) =>
      l[k] && ((...a: [string, ...unknown[]]) => {
        try {
          l[k]!(...a);
        } catch {
          // A logger that throws could not report it either.
        }
      }),
  });

/**
 * A logger; every method optional. The default logs warnings and errors to the console. Methods are called as the
 * logger's own (pino's and winston's work as they are); one that throws is ignored, so logging never breaks the SDK's work.
 */
export interface Logger {
  /** Detail for debugging. */
  debug?(message: string, ...details: unknown[]): void;
  /** Something unexpected that was handled. */
  warn?(message: string, ...details: unknown[]): void;
  /** Something failed. */
  error?(message: string, ...details: unknown[]): void;
}

/** The default logger: warnings and errors to the console, debug dropped. */
export const consoleLogger: Logger = {
  warn: (m, ...d) => console.warn(`[gearman] ${m}`, ...d),
  error: (m, ...d) => console.error(`[gearman] ${m}`, ...d),
};
