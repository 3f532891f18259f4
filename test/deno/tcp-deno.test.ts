// Deno: the SDK over Deno.connect against a real gearmand (started with the shared node:-only helper).
import assert from "node:assert/strict";
import { Client, GearmanReturn, JobFailedError, Worker } from "../../src/deno.ts";
import { startGearmand } from "../support/gearmand.ts";

Deno.test("deno tcp: client and worker round trip, data, failure, echo", async () => {
  const gearmand = await startGearmand({ args: ["--threads=0"] });
  const servers = [`tcp://127.0.0.1:${gearmand.port}`];
  const worker = new Worker({ servers, concurrency: 2 });
  worker.defineFunction("deno_reverse", async (job) => {
    await job.sendData("r:");
    return [...job.text()].reverse().join("");
  });
  worker.defineFunction("deno_fail", () => GearmanReturn.FAIL);
  const client = new Client({ servers });
  try {
    await worker.start();
    const out = await client.execute("deno_reverse", "hello deno");
    assert.equal(new TextDecoder().decode(out), "r:oned olleh");
    await assert.rejects(client.execute("deno_fail", "x"), JobFailedError);
    const echoed = await client.echo(new Uint8Array([0, 1, 2, 255]));
    assert.deepEqual([...echoed], [0, 1, 2, 255]);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => client.execute("deno_reverse", `${i}`)));
    assert.equal(results.length, 200);
  } finally {
    await client.close();
    await worker.stop({ graceful: false });
    await gearmand.stop();
  }
});

Deno.test("deno tcp: a Deno worker serves a background job and status is readable", async () => {
  const gearmand = await startGearmand({ args: ["--threads=0"] });
  const servers = [`127.0.0.1:${gearmand.port}`];
  const client = new Client({ servers });
  const worker = new Worker({ servers });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  worker.defineFunction("deno_bg", async (job) => {
    job.sendStatus(1, 4);
    await gate;
  });
  try {
    const handle = await client.submitBackground("deno_bg", "x");
    await worker.start();
    let status = await client.getStatus(handle);
    for (let i = 0; i < 100 && status.numerator !== 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
      status = await client.getStatus(handle);
    }
    assert.equal(status.known, true);
    assert.equal(status.running, true);
    assert.equal(status.numerator, 1);
    assert.equal(status.denominator, 4);
    release();
  } finally {
    await client.close();
    await worker.stop();
    await gearmand.stop();
  }
});
