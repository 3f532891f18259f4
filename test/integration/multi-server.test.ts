// Node: one Client over two gearmands: uniques and status queries go to one server per unique, and a lost
// server is used again once it is back (the audit of this session; Perl's Gearman::Client also hashes uniques).
import { afterEach, describe, expect, it } from "vitest";
import { fname, gate, Resources, sleep, text, waitFor } from "./helpers.ts";

const res = new Resources();
afterEach(() => res.cleanup());

// Two gearmands on one host would both hand out H:<host>:<n>; operators set --job-handle-prefix to tell them apart.
async function twoServers(): Promise<[string, string]> {
  const [a, b] = await Promise.all(["ga", "gb"].map((p) => res.gearmand({ args: ["--threads=0", `--job-handle-prefix=${p}`] })));
  return [a!.address, b!.address];
}

describe("a client with two servers", () => {
  it("sends submits with the same unique to one server, so they coalesce and the job runs once", async () => {
    const servers = await twoServers();
    const fn = fname("coalesce2");
    let runs = 0;
    const w = res.worker({ servers, concurrency: 2 });
    w.defineFunction(fn, async (job) => {
      runs++;
      await sleep(200);
      return `r:${job.text()}`;
    });
    await w.start();
    const c = res.client({ servers });
    for (let i = 0; i < 6; i++) {
      const [x, y] = await Promise.all([c.execute(fn, "A", { unique: `u${i}` }), c.execute(fn, "B", { unique: `u${i}` })]);
      expect(text(x)).toBe(text(y));
    }
    expect(runs).toBe(6);
  });

  it("clients that list the servers in another order still send one unique to the same server", async () => {
    const [a, b] = await twoServers();
    const fn = fname("order");
    let runs = 0;
    const w = res.worker({ servers: [a, b], concurrency: 2 });
    w.defineFunction(fn, async () => (runs++, await sleep(200), "r"));
    await w.start();
    const ab = res.client({ servers: [a, b] });
    const ba = res.client({ servers: [b, a] });
    for (let i = 0; i < 6; i++) await Promise.all([ab.execute(fn, "x", { unique: `o${i}` }), ba.execute(fn, "x", { unique: `o${i}` })]);
    expect(runs).toBe(6);
  });

  it("asks the server that holds the job: getStatusUnique for background jobs, getStatus for a foreground handle", async () => {
    const servers = await twoServers();
    const fn = fname("status2");
    const c = res.client({ servers });
    for (let i = 0; i < 6; i++) await c.submitBackground(fn, "x", { unique: `bg${i}` });
    for (let i = 0; i < 6; i++) expect((await c.getStatusUnique(`bg${i}`)).known).toBe(true);
    const release = gate();
    const w = res.worker({ servers });
    w.defineFunction(`${fn}.fg`, async (job) => {
      job.sendStatus(1, 2);
      await release.promise;
      return "done";
    });
    await w.start();
    const tasks = Array.from({ length: 4 }, (_, i) => c.submit(`${fn}.fg`, "y", { unique: `fg${i}` }));
    const statuses = tasks.map(async (t) => {
      await new Promise<void>((r) => t.on("status", () => r()));
      return c.getStatus(await t.created());
    });
    // One worker slot: the running job reports 1/2; the others are known and queued on their own server.
    const first = await Promise.race(statuses);
    expect(first).toMatchObject({ known: true, running: true, numerator: 1, denominator: 2 });
    release.resolve();
    await Promise.all(tasks.map((t) => t.result()));
  });

  it("uses a server again once it is back after a restart", async () => {
    const a = await res.gearmand({ args: ["--threads=0"] });
    const b = await res.gearmand({ args: ["--threads=0"] });
    const fn = fname("revive");
    const c = res.client({ servers: [a.address, b.address], reconnectDelay: 50, maxReconnectDelay: 200 });
    await c.echo("warm");
    await a.stop();
    const a2 = await res.gearmand({ args: ["--threads=0"], port: a.port });
    await waitFor(async () => {
      // A submit may still meet the connection to the stopped server before the client saw it close: it fails, typed.
      await Promise.allSettled(Array.from({ length: 10 }, () => c.submitBackground(fn, "x")));
      const counts = await Promise.all([a2, b].map(async (g) => (await res.admin(g.address).status()).find((f) => f.name === fn)?.total ?? 0));
      return counts[0]! > 0 ? counts : undefined;
    }, 5000, "background jobs on the restarted server");
  });
});
