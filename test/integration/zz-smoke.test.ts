import { describe, it, expect, inject } from "vitest";
import { Client, Worker, GearmanReturn, AdminClient } from "../../src/node.ts";
describe("smoke", () => {
  it("round trip", async () => {
    const port = inject("gearmandPort");
    const servers = [`127.0.0.1:${port}`];
    const worker = new Worker({ servers, concurrency: 4 });
    worker.defineFunction("smoke_rev", async (job) => { await job.sendData("d:"); return [...job.text()].reverse().join(""); });
    worker.defineFunction("smoke_fail", () => GearmanReturn.FAIL);
    worker.defineFunction("smoke_throw", () => { throw new Error("boom"); });
    await worker.start();
    const client = new Client({ servers });
    const out = await client.execute("smoke_rev", "hello");
    expect(new TextDecoder().decode(out)).toBe("d:olleh");
    await expect(client.execute("smoke_fail", "x")).rejects.toThrow(/failed/);
    await expect(client.execute("smoke_throw", "x")).rejects.toThrow(/boom/);
    const many = await Promise.all(Array.from({ length: 1000 }, (_, i) => client.execute("smoke_rev", String(i))));
    expect(many.length).toBe(1000);
    const admin = new AdminClient({ server: servers[0]! });
    console.log(await admin.status(), await admin.version());
    await admin.close();
    await client.close();
    await worker.stop();
  });
});
