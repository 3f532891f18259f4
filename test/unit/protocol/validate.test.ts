// Test plan A12: names and uniques rejected before sending (gearmand would accept some and misbehave).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../../src/errors.ts";
import { MAX_FUNCTION_NAME_BYTES, MAX_UNIQUE_BYTES } from "../../../src/protocol/constants.ts";
import { assertFunctionName, assertUnique, functionNameProblem, uniqueProblem } from "../../../src/protocol/validate.ts";

const enc = new TextEncoder();

function rejects(fn: () => void): InvalidArgumentError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).code).toBe("GEARMAN_INVALID_ARGUMENT");
    return err as InvalidArgumentError;
  }
  throw new Error("expected InvalidArgumentError, nothing was thrown");
}

describe("limits follow protocol.md §1", () => {
  it("function names up to 512 bytes, uniques up to 63", () => {
    expect(MAX_FUNCTION_NAME_BYTES).toBe(512);
    expect(MAX_UNIQUE_BYTES).toBe(63);
  });
});

describe("function names", () => {
  it("an empty name is rejected", () => {
    expect(functionNameProblem("")).toMatch(/empty/);
    expect(functionNameProblem(new Uint8Array(0))).toMatch(/empty/);
    rejects(() => assertFunctionName(""));
  });

  it("a NUL anywhere is rejected", () => {
    for (const name of ["\0", "a\0b", "fn\0", "\0fn"]) {
      expect(functionNameProblem(name), JSON.stringify(name)).toMatch(/NUL/);
      expect(functionNameProblem(enc.encode(name))).toMatch(/NUL/);
      rejects(() => assertFunctionName(name));
    }
  });

  it("512 ASCII bytes pass, 513 are rejected", () => {
    expect(functionNameProblem("a".repeat(512))).toBeUndefined();
    expect(() => assertFunctionName("a".repeat(512))).not.toThrow();
    expect(functionNameProblem("a".repeat(513))).toMatch(/513 bytes/);
    expect(functionNameProblem(new Uint8Array(513).fill(0x61))).toMatch(/513 bytes/);
    expect(functionNameProblem(new Uint8Array(512).fill(0x61))).toBeUndefined();
    const err = rejects(() => assertFunctionName("a".repeat(513)));
    expect(err.message).toContain("512");
  });

  it("counts UTF-8 bytes, not UTF-16 units: multi-byte names of exactly 512 bytes pass", () => {
    const cases: [string, string][] = [
      ["2-byte", "é".repeat(256)],
      ["4-byte surrogate pairs", "😀".repeat(128)],
      ["3-byte plus 2-byte", "€".repeat(170) + "é"], // 510 + 2
      ["mixed", "a".repeat(500) + "😀€é" + "a"], // 500 + 4 + 3 + 2 + 1 = 510, padded to 512 below
    ];
    for (const [label, name] of cases) {
      const bytes = enc.encode(name).length;
      const padded = name + "a".repeat(512 - bytes);
      expect(enc.encode(padded).length, label).toBe(512);
      expect(functionNameProblem(padded), label).toBeUndefined();
      expect(padded.length, label).toBeLessThanOrEqual(512);
      // One more byte in any form tips it over.
      expect(functionNameProblem(padded + "a"), label).toMatch(/513 bytes/);
    }
  });

  it("a multi-byte name over 512 bytes is rejected although it has fewer than 512 UTF-16 units", () => {
    const name = "😀".repeat(129); // 258 units, 516 bytes
    expect(name.length).toBeLessThan(512);
    expect(functionNameProblem(name)).toMatch(/516 bytes/);
    expect(functionNameProblem("é".repeat(257))).toMatch(/514 bytes/);
    expect(functionNameProblem("中".repeat(171))).toMatch(/513 bytes/);
  });

  it("counts lone surrogates as TextEncoder writes them (3 bytes each, U+FFFD)", () => {
    // A high surrogate not followed by a low one is not a pair, whatever follows it.
    const cases = ["\ud800", "\udc00", "\ud800a", "\ud800\u4e2d", "\ud800\u00e9", "\ud800\ud800\udc00", "a\udbff"];
    for (const s of cases) {
      const bytes = enc.encode(s).length;
      const name = s.repeat(Math.floor(512 / bytes));
      const total = enc.encode(name).length;
      expect(functionNameProblem(name), JSON.stringify(s)).toBeUndefined();
      const over = name + "a".repeat(513 - total);
      expect(functionNameProblem(over), JSON.stringify(s)).toMatch(/513 bytes/);
    }
  });

  it("ordinary names pass", () => {
    for (const name of ["reverse", "a", "map.reduce:v2", "name with spaces", "ünïcødé"]) {
      expect(functionNameProblem(name)).toBeUndefined();
      expect(() => assertFunctionName(name)).not.toThrow();
    }
  });
});

describe("uniques", () => {
  it("empty is fine (never coalesced)", () => {
    expect(uniqueProblem("")).toBeUndefined();
    expect(uniqueProblem(new Uint8Array(0))).toBeUndefined();
    expect(() => assertUnique("")).not.toThrow();
  });

  it("63 bytes pass, 64 are rejected (gearmand would truncate them to 63)", () => {
    expect(uniqueProblem("u".repeat(63))).toBeUndefined();
    expect(uniqueProblem(new Uint8Array(63).fill(0x75))).toBeUndefined();
    expect(uniqueProblem("u".repeat(64))).toMatch(/64 bytes/);
    expect(uniqueProblem(new Uint8Array(64).fill(0x75))).toMatch(/64 bytes/);
    expect(uniqueProblem("u".repeat(65))).toMatch(/65 bytes/);
    const err = rejects(() => assertUnique("u".repeat(64)));
    expect(err.message).toContain("63");
  });

  it("counts UTF-8 bytes: 21 × '€' (63 bytes) passes, 32 × 'é' (64 bytes) does not", () => {
    expect(uniqueProblem("€".repeat(21))).toBeUndefined();
    expect(uniqueProblem("é".repeat(32))).toMatch(/64 bytes/);
    expect(uniqueProblem("😀".repeat(15) + "abc")).toBeUndefined(); // 60 + 3
    expect(uniqueProblem("😀".repeat(16))).toMatch(/64 bytes/);
  });

  it("a NUL is rejected", () => {
    for (const u of ["\0", "a\0", "\0a", "a\0b"]) {
      expect(uniqueProblem(u)).toMatch(/NUL/);
      expect(uniqueProblem(enc.encode(u))).toMatch(/NUL/);
      rejects(() => assertUnique(u));
    }
  });

  it("a typical UUID unique passes", () => {
    expect(uniqueProblem("0f8fad5b-d9cb-469f-a165-70867728950e")).toBeUndefined();
  });
});

describe("the limits count UTF-8 bytes, whatever the string", () => {
  it("a name passes exactly when it is 1 to 512 UTF-8 bytes without NUL, a unique when ≤ 63 (2000 runs each)", () => {
    const units = fc.array(
      fc.oneof(fc.integer({ min: 1, max: 0x7f }), fc.integer({ min: 0x80, max: 0xffff }), fc.integer({ min: 0xd800, max: 0xdfff })),
      { maxLength: 300 },
    );
    fc.assert(
      fc.property(units, (codes) => {
        const s = String.fromCharCode(...codes);
        const bytes = enc.encode(s).length;
        expect(functionNameProblem(s) === undefined).toBe(bytes >= 1 && bytes <= MAX_FUNCTION_NAME_BYTES);
        expect(uniqueProblem(s) === undefined).toBe(bytes <= MAX_UNIQUE_BYTES);
        if (bytes > MAX_FUNCTION_NAME_BYTES) expect(functionNameProblem(s)).toContain(`${bytes} bytes`);
      }),
      { numRuns: 2000 },
    );
  });
});
