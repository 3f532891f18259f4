// Node: a Worker's logger is called as an object's methods, so a logger whose methods need `this` (pino's and
// winston's do) works; a scripted fake server on an in-memory pipe sends the worker ERROR packets. No sockets.
import { expect, it } from "vitest";
import { encodePacket, type Packet, PacketDecoder, PacketType, Worker } from "../../src/node.ts";
import { createMemoryPair } from "../../src/transports/memory.ts";
import { ThisLogger } from "../support/this-logger.ts";

it("ERROR packets from the server reach a logger whose methods use `this`, at debug for JOB_NOT_FOUND, warn otherwise", async () => {
  const [workerEnd, server] = createMemoryPair();
  const decoder = new PacketDecoder({ expect: "req" });
  const seen: Packet[] = [];
  server.start({ data: (chunk) => void seen.push(...decoder.push(chunk)), drain: () => {}, closed: () => {} });
  const logger = new ThisLogger();
  const worker = new Worker({ servers: ["memory"], connector: () => async () => workerEnd, logger });
  worker.defineFunction("f", () => "done");
  const started = worker.start();
  const until = async (pred: () => boolean): Promise<void> => {
    for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(pred()).toBe(true);
  };
  const grabs = (): number => seen.filter((p) => p.type === PacketType.GRAB_JOB_ALL).length;
  await until(() => grabs() === 1);
  server.write(encodePacket(PacketType.NO_JOB, [], "res"));
  await started;
  server.write(encodePacket(PacketType.ERROR, ["JOB_NOT_FOUND", "late result"], "res"));
  server.write(encodePacket(PacketType.ERROR, ["SOMETHING_ELSE", "odd"], "res"));
  await until(() => logger.lines.length >= 2);
  expect(logger.lines).toEqual(["debug memory answered ERROR JOB_NOT_FOUND: late result", "warn memory answered ERROR SOMETHING_ELSE: odd"]);
  // The worker is still working: a job it is given completes.
  server.write(encodePacket(PacketType.NOOP, [], "res"));
  await until(() => grabs() === 2);
  server.write(encodePacket(PacketType.JOB_ASSIGN_ALL, ["H:x:1", "f", "", "", "in"], "res"));
  await until(() => seen.some((p) => p.type === PacketType.WORK_COMPLETE));
  expect(new TextDecoder().decode(seen.find((p) => p.type === PacketType.WORK_COMPLETE)!.args[1])).toBe("done");
  await worker.stop({ graceful: false });
});
