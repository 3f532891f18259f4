// Node: a Client against a scripted fake server on an in-memory pipe (test-plan A1, A4): what a server
// that breaks the protocol does to pending requests. No sockets.
import { describe, expect, it } from "vitest";
import { Client, PacketDecoder, PacketType, ProtocolError, encodePacket, type Packet } from "../../src/node.ts";
import { createMemoryPair, type MemoryTransport } from "../../src/transports/memory.ts";

/** A client wired to a fake server end; `requests` resolves with the first `n` packets the client sent. */
function fakeServer(): { client: Client; server: MemoryTransport; requests: (n: number) => Promise<Packet[]> } {
  const [clientEnd, server] = createMemoryPair();
  const decoder = new PacketDecoder({ expect: "req" });
  const seen: Packet[] = [];
  let wake: (() => void) | undefined;
  server.start({ data: (chunk) => (seen.push(...decoder.push(chunk)), wake?.()), drain: () => {}, closed: () => {} });
  const client = new Client({ servers: ["memory"], connector: () => async () => clientEnd, exceptions: false, logger: { warn: () => {} } });
  const requests = async (n: number): Promise<Packet[]> => {
    while (seen.length < n) await new Promise<void>((r) => (wake = r));
    return seen.slice(0, n);
  };
  return { client, server, requests };
}

describe("a client whose server breaks the protocol", () => {
  it("an answer of the wrong type fails the request it stood for (and the rest) with ProtocolError instead of leaving it pending", async () => {
    const { client, server, requests } = fakeServer();
    const first = client.submit("f", "a");
    const second = client.submit("f", "b");
    const [p] = await requests(2);
    expect(p!.type).toBe(PacketType.SUBMIT_JOB);
    server.write(encodePacket(PacketType.ECHO_RES, ["surprise"], "res"));
    for (const task of [first, second]) {
      const err = await task.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).reason).toBe("unexpected_packet");
    }
    await client.close();
  });

  it("a packet cut short by the close fails created tasks with the ProtocolError (A1), not a ConnectionError", async () => {
    const { client, server, requests } = fakeServer();
    const task = client.submit("f", "a");
    await requests(1);
    server.write(encodePacket(PacketType.JOB_CREATED, ["H:x:1"], "res"));
    await task.created();
    server.write(encodePacket(PacketType.WORK_COMPLETE, ["H:x:1", "result"], "res").subarray(0, 9));
    server.close();
    const err = await task.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).reason).toBe("truncated");
    await client.close();
  });
});
