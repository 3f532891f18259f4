// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * One connect attempt under a deadline and an AbortSignal, shared by the connectors that open
 * their own sockets (node:net, Deno.connect, WebSocket).
 * @module
 */
import type { Transport } from "../core/transport.ts";

/**
 * Runs `open`, which starts connecting and returns `fail(why)`: tear the half-open connection down
 * and settle with the error to report. `open` gets `settle`, to call from its socket's events
 * (never before it returns) with the transport or the Error to reject with. The deadline calls
 * `fail(late)`, and the signal `fail("connect aborted")`, at once if it has already aborted.
 */
export function connectAttempt(
  signal: AbortSignal | undefined,
  timeout: number,
  late: string,
  open: (settle: (result: Transport | Error) => void) => (why: string) => void,
): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const settle = (result: Transport | Error): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const fail = open(settle);
    const onAbort = (): void => fail("connect aborted");
    const timer = setTimeout(() => fail(late), timeout);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
