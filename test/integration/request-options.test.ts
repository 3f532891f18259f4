// Node: timeout and signal on the client's one-reply requests (echo, getStatus, getStatusUnique), against a server
// that never answers and against real gearmand, whose late replies must not shift later answers.
import { createServer, type AddressInfo, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { AbortError, InvalidArgumentError, TimeoutError } from "../../src/node.ts";
import { fname, killableConnector, Resources, sharedServer, sleep, text } from "./helpers.ts";

const res = new Resources();
afterEach(() => res.cleanup());

/** A TCP server that accepts and reads, and never answers; counts what it was sent. */
async function silentServer(): Promise<{ address: string; received: () => number; connections: () => number }> {
  const sockets: Socket[] = [];
  let received = 0;
  const srv = createServer((s) => void sockets.push(s.on("data", (d) => (received += d.length)).on("error", () => {})));
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  res.onCleanup(() => (sockets.forEach((s) => s.destroy()), srv.close()));
  return { address: `127.0.0.1:${(srv.address() as AddressInfo).port}`, received: () => received, connections: () => sockets.length };
}

describe("echo, getStatus and getStatusUnique take { timeout, signal }", () => {
  it("against a server that never answers, each rejects with TimeoutError after its timeout", async () => {
    const silent = await silentServer();
    const c = res.client({ servers: [silent.address] });
    const t0 = Date.now();
    const errors = await Promise.all([
      c.echo("ping", { timeout: 200 }).catch((e: unknown) => e),
      c.getStatus("H:x:1", { timeout: 200 }).catch((e: unknown) => e),
      c.getStatusUnique("u1", { timeout: 200 }).catch((e: unknown) => e),
    ]);
    for (const e of errors) expect(e).toBeInstanceOf(TimeoutError);
    expect((errors[0] as Error).message).toMatch(/ECHO_REQ within 200 ms/);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(silent.received()).toBeGreaterThan(0); // they were sent
  });

  it("aborting rejects with AbortError; a signal aborted before the call sends nothing and opens no connection", async () => {
    const silent = await silentServer();
    const c = res.client({ servers: [silent.address] });
    const ac = new AbortController();
    const pending = c.echo("ping", { signal: ac.signal }).catch((e: unknown) => e);
    await sleep(100);
    ac.abort(new Error("user gave up"));
    const err = await pending;
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).cause).toEqual(new Error("user gave up"));

    const idle = await silentServer();
    const c2 = res.client({ servers: [idle.address] });
    const aborted = AbortSignal.abort();
    await expect(c2.echo("x", { signal: aborted })).rejects.toBeInstanceOf(AbortError);
    await expect(c2.getStatus("H:x:1", { signal: aborted })).rejects.toBeInstanceOf(AbortError);
    await sleep(100);
    expect(idle.connections()).toBe(0);
  });

  it("a timeout that is not a positive number is an InvalidArgumentError", async () => {
    const c = res.client();
    await expect(c.echo("x", { timeout: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(c.getStatus("H:x:1", { timeout: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("real gearmand: a reply that comes after its request timed out is dropped, and later answers stay in order", async () => {
    const fn = fname("late");
    const w = res.worker();
    w.defineFunction(fn, () => "done");
    await w.start();
    const killable = killableConnector();
    const c = res.client({ servers: [sharedServer()], connector: killable.connector });
    expect(text(await c.echo("warm-up"))).toBe("warm-up");
    const [transport] = killable.transports;
    // Hold gearmand's replies back: the echo's answer arrives only after its timeout.
    transport!.pause();
    await expect(c.echo("late", { timeout: 150 })).rejects.toBeInstanceOf(TimeoutError);
    transport!.resume();
    expect(text(await c.echo("next"))).toBe("next");
    const handle = await c.submitBackground(fn, "x");
    const status = await c.getStatus(handle, { timeout: 5000 });
    expect(status.handle).toBe(handle);
    expect(text(await c.execute(fn, "y", { timeout: 5000 }))).toBe("done");
  });
});

describe("timeouts beyond setTimeout's range (2^31 ms and more fire at once there)", () => {
  it("a request timeout of Infinity or 2^31 ms is no limit, not an instant TimeoutError", async () => {
    const silent = await silentServer();
    const c = res.client({ servers: [silent.address] });
    const ac = new AbortController();
    const pending = [Infinity, 2 ** 31, 2 ** 40].map((timeout) => c.echo("x", { timeout, signal: ac.signal }).catch((e: unknown) => e));
    await sleep(300);
    ac.abort();
    for (const e of await Promise.all(pending)) expect(e).toBeInstanceOf(AbortError);
  });

  it("a function timeout of 2^31 ms or more is refused at defineFunction; 2^31 - 1 is taken", () => {
    const w = res.worker();
    expect(() => w.defineFunction(fname("huge"), () => "x", { timeout: 2 ** 31 })).toThrow(InvalidArgumentError);
    expect(() => w.defineFunction(fname("inf"), () => "x", { timeout: Infinity })).toThrow(InvalidArgumentError);
    expect(() => w.defineFunction(fname("max"), () => "x", { timeout: 2 ** 31 - 1 })).not.toThrow();
  });
});
