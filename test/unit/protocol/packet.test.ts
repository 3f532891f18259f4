import { describe, expect, it } from "vitest";
import { InvalidArgumentError, ProtocolError } from "../../../src/errors.ts";
import { HEADER_SIZE, MAGIC_REQ, MAGIC_RES } from "../../../src/protocol/constants.ts";
import { PacketDecoder } from "../../../src/protocol/decoder.ts";
import { argCount, isPacketType, PACKET_ARGS, PacketType, packetTypeName } from "../../../src/protocol/packet-types.ts";
import { argText, encodePacket, type Packet, type PacketArg, PacketWriter } from "../../../src/protocol/packet.ts";
import {
  bytesToHex,
  GOLDEN,
  GOLDEN_EXTRA,
  goldenFields,
  hexToBytes,
  SPEC_FIELD_COUNTS,
  SPEC_SUBMIT_REDUCE_JOB_HEX,
  SPEC_TYPE_NAMES,
} from "../../support/fixtures.ts";

const ALL_GOLDEN = [...GOLDEN, ...GOLDEN_EXTRA];
const ALL_TYPES = Array.from({ length: 42 }, (_, i) => i + 1);

function hexOf(bytes: Uint8Array): string {
  return bytesToHex(bytes);
}

function decodeOne(bytes: Uint8Array, direction: "req" | "res" | "any" = "any"): Packet {
  const d = new PacketDecoder({ expect: direction });
  const packets = d.push(bytes);
  expect(packets).toHaveLength(1);
  expect(d.idle).toBe(true);
  return packets[0]!;
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to throw");
}

describe("fixtures cover the protocol", () => {
  it("has exactly one golden vector per type 1..42, in order", () => {
    expect(GOLDEN.map((g) => g.type)).toEqual(ALL_TYPES);
  });

  it("the SUBMIT_REDUCE_JOB vector is the byte-exact example of protocol.md §1", () => {
    const bytes = hexToBytes(SPEC_SUBMIT_REDUCE_JOB_HEX);
    expect(bytes.length).toBe(12 + 19);
    expect(hexOf(bytes)).toBe("00524551" + "00000025" + "00000013" + "73706c6974" + "00" + "7531" + "00" + "7570706572" + "00" + "00" + "612062");
    expect(GOLDEN[36]!.hex).toBe(SPEC_SUBMIT_REDUCE_JOB_HEX);
  });

  it("every vector's header announces its real body length and magic", () => {
    for (const g of ALL_GOLDEN) {
      const b = hexToBytes(g.hex);
      const view = new DataView(b.buffer);
      expect(view.getUint32(0), g.label).toBe(g.magic === "req" ? MAGIC_REQ : MAGIC_RES);
      expect(view.getUint32(4), g.label).toBe(g.type);
      expect(view.getUint32(8), g.label).toBe(b.length - HEADER_SIZE);
    }
  });
});

describe("packet type table", () => {
  it("PACKET_ARGS has the field count of protocol.md §2 for every type", () => {
    for (const t of ALL_TYPES) {
      expect(PACKET_ARGS[t as keyof typeof PACKET_ARGS].length, `type ${t}`).toBe(SPEC_FIELD_COUNTS[t]);
      expect(argCount(t as keyof typeof PACKET_ARGS)).toBe(SPEC_FIELD_COUNTS[t]);
    }
  });

  it("PacketType names and numbers are those of protocol.h", () => {
    const expected = Object.fromEntries(ALL_TYPES.map((t) => [SPEC_TYPE_NAMES[t], t]));
    expect({ ...PacketType }).toEqual(expected);
    for (const t of ALL_TYPES) expect(packetTypeName(t)).toBe(SPEC_TYPE_NAMES[t]);
  });

  it("SUBMIT_REDUCE_JOB and its background variant have the empty aggregate as 4th field", () => {
    expect(PACKET_ARGS[37]).toEqual(["function", "unique", "reducer", "aggregate", "data"]);
    expect(PACKET_ARGS[38]).toEqual(["function", "unique", "reducer", "aggregate", "data"]);
  });

  it("STATUS_RES_UNIQUE starts with the unique, not a handle", () => {
    expect(PACKET_ARGS[42][0]).toBe("unique");
    expect(PACKET_ARGS[42]).toHaveLength(6);
  });

  it("knows 1..42 only", () => {
    for (const t of [0, 43, 99, -1, 1.5, Number.NaN, 2 ** 31, 2 ** 32 - 1]) {
      expect(isPacketType(t), String(t)).toBe(false);
      expect(packetTypeName(t)).toBe(`UNKNOWN(${t})`);
    }
    for (const t of ALL_TYPES) expect(isPacketType(t)).toBe(true);
  });
});

describe("encodePacket produces the golden vectors", () => {
  it.each(ALL_GOLDEN.map((g) => [g.label, g] as const))("%s", (_label, g) => {
    const bytes = encodePacket(g.type, g.args, g.magic);
    expect(hexOf(bytes)).toBe(hexOf(hexToBytes(g.hex)));
    expect(bytes).toBeInstanceOf(Uint8Array);
    // An owned buffer: a transport may keep it, so it must not alias a shared pool.
    expect(bytes.byteOffset).toBe(0);
  });

  it("defaults to the request magic", () => {
    expect(hexOf(encodePacket(PacketType.GRAB_JOB_ALL, []))).toBe("005245510000002700000000");
  });

  it("encodes Uint8Array fields byte for byte, the same as equal strings", () => {
    const enc = new TextEncoder();
    for (const g of ALL_GOLDEN) {
      const asBytes = g.args.map((a) => (typeof a === "string" ? enc.encode(a) : a));
      expect(hexOf(encodePacket(g.type, asBytes, g.magic)), g.label).toBe(hexOf(hexToBytes(g.hex)));
    }
  });
});

describe("decoding the golden vectors", () => {
  it.each(ALL_GOLDEN.map((g) => [g.label, g] as const))("%s", (_label, g) => {
    const p = decodeOne(hexToBytes(g.hex), g.magic);
    expect(p.type).toBe(g.type);
    expect(p.magic).toBe(g.magic);
    expect(p.args.map(hexOf)).toEqual(goldenFields(g).map(hexOf));
    for (const a of p.args) expect(a).toBeInstanceOf(Uint8Array);
  });

  it("argText reads fields as UTF-8 and gives '' past the end", () => {
    const p = decodeOne(hexToBytes(GOLDEN[20]!.hex)); // SUBMIT_JOB_HIGH reverse / "" / café
    expect(argText(p, 0)).toBe("reverse");
    expect(argText(p, 1)).toBe("");
    expect(argText(p, 2)).toBe("café");
    expect(argText(p, 3)).toBe("");
  });
});

describe("PacketWriter", () => {
  it("batching every golden packet equals the concatenated single encodes", () => {
    for (const initial of [1, 16, 4096]) {
      const w = new PacketWriter(initial);
      let expected = "";
      for (const g of ALL_GOLDEN) {
        w.write(g.type, g.args, g.magic);
        expected += hexOf(encodePacket(g.type, g.args, g.magic));
      }
      expect(w.length).toBe(expected.length / 2);
      expect(hexOf(w.take())).toBe(expected);
      expect(expected).toBe(ALL_GOLDEN.map((g) => hexOf(hexToBytes(g.hex))).join(""));
    }
  });

  it("batches many packets and the decoder reads them all back", () => {
    const w = new PacketWriter(8);
    const n = 500;
    for (let i = 0; i < n; i++) w.write(PacketType.WORK_DATA, [`H:x:${i}`, `chunk-${i}`], "res");
    const bytes = w.take();
    const single = Array.from({ length: n }, (_, i) => hexOf(encodePacket(PacketType.WORK_DATA, [`H:x:${i}`, `chunk-${i}`], "res")));
    expect(hexOf(bytes)).toBe(single.join(""));
    const packets = new PacketDecoder({ expect: "res" }).push(bytes);
    expect(packets.map((p) => argText(p, 1))).toEqual(Array.from({ length: n }, (_, i) => `chunk-${i}`));
  });

  it("take() hands out owned bytes and starts a new batch", () => {
    const w = new PacketWriter(64);
    w.write(PacketType.CAN_DO, ["a"]);
    const first = w.take();
    expect(w.length).toBe(0);
    const firstHex = hexOf(first);
    expect(firstHex).toBe("00524551000000010000000161");
    w.write(PacketType.CAN_DO, ["zzzzzzzz"]);
    w.write(PacketType.PRE_SLEEP, []);
    // Writing after take() must not touch the bytes already handed out.
    expect(hexOf(first)).toBe(firstHex);
    expect(hexOf(w.take())).toBe("005245510000000100000008" + "7a7a7a7a7a7a7a7a" + "005245510000000400000000");
    expect(w.take().length).toBe(0);
  });

  it("batch after batch, taken bytes are never written again, and small batches share one buffer", () => {
    const w = new PacketWriter();
    const taken: { bytes: Uint8Array; hex: string }[] = [];
    // Batches of 1 to 40 packets, a big one (past the slab) among them, and a batch split by a growth.
    for (let b = 0; b < 200; b++) {
      const count = b === 77 ? 2000 : (b % 40) + 1;
      for (let i = 0; i < count; i++) w.write(PacketType.WORK_COMPLETE, [`H:x:${b}.${i}`, `r${i}`], "res");
      const bytes = w.take();
      taken.push({ bytes, hex: hexOf(bytes) });
    }
    for (const [b, t] of taken.entries()) {
      const packets = new PacketDecoder({ expect: "res" }).push(t.bytes);
      expect(packets.length).toBe(b === 77 ? 2000 : (b % 40) + 1);
      expect(argText(packets[0]!, 0)).toBe(`H:x:${b}.0`);
      expect(hexOf(t.bytes)).toBe(t.hex);
    }
    // One CAN_DO batch is 17 bytes: many of them fit the same allocation.
    const small = Array.from({ length: 20 }, () => {
      w.write(PacketType.CAN_DO, ["fn"]);
      return w.take();
    });
    expect(new Set(small.map((x) => x.buffer)).size).toBeLessThan(4);
    expect(small.every((x) => hexOf(x) === hexOf(encodePacket(PacketType.CAN_DO, ["fn"])))).toBe(true);
  });

  it("writeRaw appends bytes between packets", () => {
    const w = new PacketWriter(2);
    w.write(PacketType.NOOP, [], "res");
    w.writeRaw(new TextEncoder().encode("status\r\n"));
    w.write(PacketType.NO_JOB, [], "res");
    expect(hexOf(w.take())).toBe("005245530000000600000000" + "7374617475730d0a" + "00524553 0000000a 00000000".replace(/ /g, ""));
  });

  it("a rejected write leaves the batch untouched", () => {
    const w = new PacketWriter(4);
    w.write(PacketType.CAN_DO, ["ok"]);
    const before = w.length;
    expect(() => w.write(99, [])).toThrow(ProtocolError);
    expect(() => w.write(PacketType.SUBMIT_JOB, ["f", "u"])).toThrow(InvalidArgumentError);
    expect(() => w.write(PacketType.SUBMIT_JOB, ["f\0", "u", "d"])).toThrow(InvalidArgumentError);
    expect(w.length).toBe(before);
    expect(hexOf(w.take())).toBe("0052455100000001000000026f6b");
  });
});

describe("strings are UTF-8", () => {
  const cases: [string, string, string][] = [
    ["2-byte (é)", "é", "c3a9"],
    ["3-byte (€)", "€", "e282ac"],
    ["3-byte CJK (中文)", "中文", "e4b8ade69687"],
    ["surrogate pair (😀)", "😀", "f09f9880"],
    ["ASCII then multi-byte", "abc😀d€", "616263f09f988064e282ac"],
    ["multi-byte then ASCII", "ñandú x", "c3b1616e64c3ba2078"],
    ["lone high surrogate becomes U+FFFD", "a\ud800b", "61efbfbd62"],
    ["lone low surrogate becomes U+FFFD", "\udc00", "efbfbd"],
  ];

  it.each(cases)("%s in a non-last and the last field", (_label, text, hex) => {
    const bytes = encodePacket(PacketType.SUBMIT_JOB, [text, text, text]);
    const body = `${hex}00${hex}00${hex}`;
    const len = (body.length / 2).toString(16).padStart(8, "0");
    expect(hexOf(bytes)).toBe(`00524551 00000007 ${len}`.replace(/ /g, "") + body);
    const p = decodeOne(bytes);
    expect(p.args.map(hexOf)).toEqual([hex, hex, hex]);
  });

  it("round-trips text through argText when it is well-formed", () => {
    const text = "ünïcødé 😀 中文 — ok";
    const p = decodeOne(encodePacket(PacketType.WORK_COMPLETE, ["H:x:1", text], "res"));
    expect(argText(p, 1)).toBe(text);
  });

  it("sizes long multi-byte strings correctly (buffer growth)", () => {
    const text = "😀€é".repeat(5000); // 4 + 3 + 2 bytes, 9 per repetition
    for (const w of [new PacketWriter(1), new PacketWriter(4096)]) {
      w.write(PacketType.ECHO_REQ, [text]);
      w.write(PacketType.ECHO_REQ, ["x" + text]);
      const bytes = w.take();
      expect(bytes.length).toBe(2 * HEADER_SIZE + 2 * 45000 + 1);
      const packets = new PacketDecoder().push(bytes);
      expect(packets).toHaveLength(2);
      expect(packets[0]!.args[0]!.length).toBe(45000);
      expect(argText(packets[0]!, 0)).toBe(text);
      expect(argText(packets[1]!, 0)).toBe("x" + text);
    }
  });
});

describe("the encoder refuses invalid packets", () => {
  it.each([0, 43, 99, 2 ** 31, 2 ** 32 - 1, -1, 1.5, Number.NaN])("type %s: ProtocolError unknown_type", (type) => {
    for (const args of [[], ["x"]] as PacketArg[][]) {
      const err = catchError(() => encodePacket(type, args));
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).reason).toBe("unknown_type");
      expect((err as ProtocolError).code).toBe("GEARMAN_PROTOCOL");
      expect(catchError(() => new PacketWriter().write(type, args, "res"))).toBeInstanceOf(ProtocolError);
    }
  });

  it("every type rejects one field too few and one too many with InvalidArgumentError", () => {
    for (const t of ALL_TYPES) {
      const k = SPEC_FIELD_COUNTS[t]!;
      const tooMany = Array.from({ length: k + 1 }, () => "x");
      expect(catchError(() => encodePacket(t, tooMany)), `type ${t} with ${k + 1}`).toBeInstanceOf(InvalidArgumentError);
      if (k > 0) {
        const tooFew = Array.from({ length: k - 1 }, () => "x");
        expect(catchError(() => encodePacket(t, tooFew)), `type ${t} with ${k - 1}`).toBeInstanceOf(InvalidArgumentError);
      }
      const right = Array.from({ length: k }, () => "x");
      expect(() => encodePacket(t, right)).not.toThrow();
    }
  });

  it("a NUL in any non-last field is rejected, as a string or as bytes; in the last field it is data", () => {
    for (const t of ALL_TYPES) {
      const k = SPEC_FIELD_COUNTS[t]!;
      for (let i = 0; i < k - 1; i++) {
        for (const bad of ["a\0b", "\0", new Uint8Array([0x61, 0x00])] as PacketArg[]) {
          const args: PacketArg[] = Array.from({ length: k }, () => "x");
          args[i] = bad;
          const err = catchError(() => encodePacket(t, args));
          expect(err, `type ${t} field ${i}`).toBeInstanceOf(InvalidArgumentError);
          expect((err as Error).message).toContain(`field ${i + 1} of ${packetTypeName(t)}`);
        }
      }
      if (k > 0) {
        const args: PacketArg[] = Array.from({ length: k }, () => "x");
        args[k - 1] = "a\0b\0";
        const p = decodeOne(encodePacket(t, args));
        expect(hexOf(p.args[k - 1]!)).toBe("61006200");
      }
    }
  });

  it("InvalidArgumentError is not a ProtocolError (the caller's mistake, not the peer's)", () => {
    const err = catchError(() => encodePacket(PacketType.CAN_DO, []));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err).not.toBeInstanceOf(ProtocolError);
    expect((err as InvalidArgumentError).code).toBe("GEARMAN_INVALID_ARGUMENT");
  });
});

describe("ARG_COUNTS", () => {
  it("equals the field counts of PACKET_ARGS for every type", async () => {
    const { ARG_COUNTS, PACKET_ARGS } = await import("../../../src/protocol/packet-types.ts");
    for (let t = 1; t <= 42; t++) expect(ARG_COUNTS[t], `type ${t}`).toBe(PACKET_ARGS[t as keyof typeof PACKET_ARGS].length);
    expect(ARG_COUNTS.length).toBe(43);
  });
});

describe("packet-numbers.ts (the constants the core imports so that bundlers inline them)", () => {
  it("names every packet type of the public PacketType table with its number, no more and no less", async () => {
    const numbers = await import("../../../src/protocol/packet-numbers.ts");
    expect({ ...numbers }).toEqual({ ...PacketType });
    expect(Object.keys(numbers)).toHaveLength(42);
  });
});
