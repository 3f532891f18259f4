// Decimal fields read as gearmand's C strtol/atoi read them.
import { describe, expect, it } from "vitest";
import { parseCLong, statusNumber } from "../../../src/server/numbers.ts";

const b = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("server numbers", () => {
  it("parses like strtol: blanks, sign, digits, stop at the first non-digit", () => {
    expect(parseCLong(b("42"))).toEqual({ value: 42n, overflow: false });
    expect(parseCLong(b(" \t+7x"))).toEqual({ value: 7n, overflow: false });
    expect(parseCLong(b("-5"))).toEqual({ value: -5n, overflow: false });
    expect(parseCLong(b("abc"))).toEqual({ value: 0n, overflow: false });
    expect(parseCLong(b(""))).toEqual({ value: 0n, overflow: false });
    expect(parseCLong(b("1.5"))).toEqual({ value: 1n, overflow: false });
    expect(parseCLong(b("9223372036854775807"))).toEqual({ value: 9223372036854775807n, overflow: false });
    expect(parseCLong(b("9223372036854775808")).overflow).toBe(true);
    expect(parseCLong(b("-9223372036854775808"))).toEqual({ value: -9223372036854775808n, overflow: false });
    expect(parseCLong(b("-9223372036854775809")).overflow).toBe(true);
    expect(parseCLong(b("123456"), 3)).toEqual({ value: 123n, overflow: false });
  });

  it("stores WORK_STATUS values as gearmand's (uint32_t)atoi does (values observed on gearmand 1.1.20)", () => {
    const cases: Array<[string, number, number?]> = [
      ["4294967295", 4294967295], ["4294967296", 0], ["2147483648", 2147483648], ["-5", 4294967291], ["abc", 0],
      ["9223372036854775807", 4294967295], ["9223372036854775808", 4294967295],
      ["99999999999", 1410065407, 10], ["12345678901", 1234567890, 10], ["-1", 4294967295, 10], [" 8x", 8, 10],
    ];
    for (const [text, want, limit] of cases) expect(statusNumber(b(text), limit)).toBe(want);
  });
});
