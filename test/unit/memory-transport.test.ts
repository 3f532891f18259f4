import { describe, expect, it } from "vitest";
import type { TransportSink } from "../../src/core/transport.ts";
import { Client } from "../../src/node.ts";
import { JobServer } from "../../src/server/mod.ts";
import { createMemoryPair } from "../../src/transports/memory.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A sink that records everything, in order. */
class Recorder implements TransportSink {
  events: string[] = [];
  chunks: Uint8Array[] = [];
  closedWith: (Error | undefined)[] = [];
  drains = 0;
  onData?: (chunk: Uint8Array) => void;
  data(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.events.push(`data:${dec.decode(chunk)}`);
    this.onData?.(chunk);
  }
  drain(): void {
    this.drains++;
    this.events.push("drain");
  }
  closed(error?: Error): void {
    this.closedWith.push(error);
    this.events.push(error ? `closed:${error.message}` : "closed");
  }
  get text(): string {
    return this.chunks.map((c) => dec.decode(c)).join("");
  }
}

/** Lets the transport's deliveries (scheduled with setTimeout 0) run. */
async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 0));
}

function bytes(s: string): Uint8Array<ArrayBuffer> {
  return enc.encode(s) as Uint8Array<ArrayBuffer>;
}

function started(options?: { highWaterMark?: number }) {
  const [a, b] = createMemoryPair(options);
  const ra = new Recorder();
  const rb = new Recorder();
  a.start(ra);
  b.start(rb);
  return { a, b, ra, rb };
}

describe("createMemoryPair", () => {
  it("delivers in order, asynchronously, in both directions", async () => {
    const { a, b, ra, rb } = started();
    for (const s of ["one ", "two ", "three"]) expect(a.write(bytes(s))).toBe(true);
    b.write(bytes("back"));
    // Never synchronously inside write().
    expect(rb.chunks).toEqual([]);
    expect(ra.chunks).toEqual([]);
    await settle();
    expect(rb.events).toEqual(["data:one ", "data:two ", "data:three"]);
    expect(ra.events).toEqual(["data:back"]);
    // The bytes arrive unchanged.
    expect(rb.text).toBe("one two three");
  });

  it("keeps bytes written before the peer started and delivers them once it does", async () => {
    const [a, b] = createMemoryPair();
    const ra = new Recorder();
    a.start(ra);
    a.write(bytes("early"));
    await settle();
    const rb = new Recorder();
    b.start(rb);
    await settle();
    expect(rb.events).toEqual(["data:early"]);
  });

  it("names its ends", () => {
    const [a, b] = createMemoryPair();
    expect(a.remote).toBe("memory://a");
    expect(b.remote).toBe("memory://b");
  });

  it("delivers 10 000 small writes in order", async () => {
    const { a, rb } = started();
    let expected = "";
    for (let i = 0; i < 10_000; i++) {
      a.write(bytes(`${i},`));
      expected += `${i},`;
    }
    await settle();
    expect(rb.text).toBe(expected);
  });
});

describe("close", () => {
  it("the peer gets every byte written before the close, then closed() without an error, once", async () => {
    const { a, ra, rb } = started();
    a.write(bytes("last words"));
    a.close();
    a.close();
    await settle();
    expect(rb.events).toEqual(["data:last words", "closed"]);
    expect(rb.closedWith).toEqual([undefined]);
    expect(ra.events).toEqual(["closed"]);
  });

  it("after close, writes return false and deliver nothing, either way", async () => {
    const { a, b, ra, rb } = started();
    a.close();
    expect(a.write(bytes("late"))).toBe(false);
    b.write(bytes("to a closed end"));
    await settle();
    expect(rb.events).toEqual(["closed"]);
    expect(ra.events).toEqual(["closed"]);
  });

  it("the closing end still reads what had arrived for it", async () => {
    const { a, b, ra } = started();
    b.write(bytes("in flight"));
    a.close();
    await settle();
    expect(ra.events).toEqual(["data:in flight", "closed"]);
  });
});

describe("destroy", () => {
  it("both ends see closed(error) and unread bytes are lost", async () => {
    const { a, b, ra, rb } = started();
    a.write(bytes("never read"));
    b.write(bytes("never read either"));
    const boom = new Error("connection reset");
    a.destroy(boom);
    await settle();
    expect(rb.events).toEqual(["closed:connection reset"]);
    expect(ra.events).toEqual(["closed:connection reset"]);
    expect(rb.closedWith[0]).toBe(boom);
    expect(ra.closedWith[0]).toBe(boom);
    expect(b.write(bytes("x"))).toBe(false);
  });

  it("gives an Error even when none is passed", async () => {
    const { a, rb } = started();
    a.destroy();
    await settle();
    expect(rb.closedWith).toHaveLength(1);
    expect(rb.closedWith[0]).toBeInstanceOf(Error);
  });

  it("is ignored after a close", async () => {
    const { a, rb } = started();
    a.close();
    a.destroy(new Error("too late"));
    await settle();
    expect(rb.events).toEqual(["closed"]);
  });
});

describe("backpressure", () => {
  it("write returns false at the high-water mark; drain follows once the reader has consumed", async () => {
    const { a, ra, rb } = started({ highWaterMark: 10 });
    expect(a.write(bytes("12345678"))).toBe(true); // 8 in flight
    expect(a.write(bytes("9abcdefg"))).toBe(false); // 16 ≥ 10
    expect(ra.drains).toBe(0);
    await settle();
    expect(rb.text).toBe("123456789abcdefg");
    expect(ra.events).toEqual(["drain"]);
    // One drain per false, not one per delivery.
    await settle();
    expect(ra.drains).toBe(1);
  });

  it("no drain when write never returned false", async () => {
    const { a, ra, rb } = started({ highWaterMark: 10 });
    expect(a.write(bytes("123"))).toBe(true);
    await settle();
    expect(a.write(bytes("456"))).toBe(true);
    await settle();
    expect(rb.text).toBe("123456");
    expect(ra.drains).toBe(0);
  });

  it("a paused reader holds the drain back until it resumes and consumes", async () => {
    const { a, b, ra, rb } = started({ highWaterMark: 4 });
    b.pause();
    expect(a.write(bytes("abcd"))).toBe(false);
    await settle();
    expect(rb.chunks).toEqual([]);
    expect(ra.drains).toBe(0);
    b.resume();
    await settle();
    expect(rb.text).toBe("abcd");
    expect(ra.drains).toBe(1);
  });

  it("the default high-water mark is 1 MiB", () => {
    const [a, b] = createMemoryPair();
    b.start(new Recorder());
    expect(a.write(new Uint8Array((1 << 20) - 1))).toBe(true);
    expect(a.write(new Uint8Array(1))).toBe(false);
  });
});

describe("pause / resume", () => {
  it("pause stops delivery, resume delivers what was held, in order", async () => {
    const { a, b, rb } = started();
    b.pause();
    a.write(bytes("x"));
    a.write(bytes("y"));
    await settle();
    expect(rb.chunks).toEqual([]);
    b.resume();
    await settle();
    expect(rb.events).toEqual(["data:x", "data:y"]);
  });

  it("pausing inside data() stops at once; resume continues with the next chunk", async () => {
    const { a, b, rb } = started();
    rb.onData = () => b.pause();
    a.write(bytes("1"));
    a.write(bytes("2"));
    a.write(bytes("3"));
    await settle();
    expect(rb.events).toEqual(["data:1"]);
    rb.onData = undefined;
    b.resume();
    await settle();
    expect(rb.events).toEqual(["data:1", "data:2", "data:3"]);
  });

  it("a close that arrives while paused waits behind the held data", async () => {
    const { a, b, rb } = started();
    b.pause();
    a.write(bytes("held"));
    a.close();
    await settle();
    expect(rb.events).toEqual([]);
    b.resume();
    await settle();
    expect(rb.events).toEqual(["data:held", "closed"]);
  });
});

describe("createMemoryPair TSDoc example", () => {
  it("a Client reaches a JobServer through one memory pair per connection", async () => {
    const server = new JobServer();
    const client = new Client({ servers: ["memory"], connector: () => async () => {
      const [a, b] = createMemoryPair();
      server.attach(b);
      return a;
    } });
    try {
      expect(dec.decode(await client.echo("ping"))).toBe("ping");
    } finally {
      await client.close();
      server.close();
    }
  });
});
