// Server addresses: what parses, and that a bad one is an InvalidArgumentError saying which form is expected.
import { describe, expect, it } from "vitest";
import { ErrorCode, InvalidArgumentError } from "../../src/errors.ts";
import { Client, Worker } from "../../src/node.ts";
import { formatServerAddress, parseServerAddress } from "../../src/transports/address.ts";

describe("parseServerAddress", () => {
  it("reads host:port, tcp://host:port, [ipv6]:port and a bare host (port 4730)", () => {
    expect(parseServerAddress("127.0.0.1:4731")).toEqual({ host: "127.0.0.1", port: 4731 });
    expect(parseServerAddress("tcp://gearmand.internal:1/")).toEqual({ host: "gearmand.internal", port: 1 });
    expect(parseServerAddress("[::1]:65535")).toEqual({ host: "::1", port: 65535 });
    expect(parseServerAddress("localhost")).toEqual({ host: "localhost", port: 4730 });
    expect(parseServerAddress(formatServerAddress("fe80::1", 4730))).toEqual({ host: "fe80::1", port: 4730 });
  });

  it.each(["127.0.0.1:notaport", "localhost:99999", "localhost:65536", "localhost:0", "http://127.0.0.1:4730", "127.0.0.1:4730 ",
    " 127.0.0.1:4730", "a b:4730", "", "[::1 ]:4730", "host:"])("refuses %j with InvalidArgumentError naming the expected form", (addr) => {
    const err = (() => {
      try {
        parseServerAddress(addr);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((err as Error).message).toContain(JSON.stringify(addr));
    expect((err as Error).message).toMatch(/expected host:port.*port from 1 to 65535/);
  });

  it("Client and Worker refuse a bad address at construction with InvalidArgumentError", () => {
    for (const servers of [["127.0.0.1:notaport"], ["localhost:99999"], ["http://127.0.0.1:4730"]]) {
      expect(() => new Client({ servers })).toThrow(InvalidArgumentError);
      expect(() => new Worker({ servers })).toThrow(InvalidArgumentError);
    }
  });
});
