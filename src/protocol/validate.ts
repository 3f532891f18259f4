// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Checks on function names and uniques, shared by the client (before sending) and the bridge
 * (before relaying). gearmand accepts some of these values and then misbehaves (protocol.md §1).
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import { MAX_FUNCTION_NAME_BYTES, MAX_UNIQUE_BYTES } from "./constants.ts";

const encoder = new TextEncoder();

/** Byte length for a limit check: a UTF-16 unit is at most 3 UTF-8 bytes, so a string too short to pass the limit is not encoded (its length then stands in). */
function checkedLength(value: string | Uint8Array, limit: number): number {
  return typeof value !== "string" || value.length * 3 <= limit ? value.length : encoder.encode(value).length;
}

/** Returns a reason the function name is unusable, or undefined when it is fine. */
export function functionNameProblem(name: string | Uint8Array): string | undefined {
  const len = checkedLength(name, MAX_FUNCTION_NAME_BYTES);
  if (len === 0) return "the function name is empty";
  const hasNul = typeof name === "string" ? name.includes("\0") : name.includes(0);
  if (hasNul) return "the function name contains a NUL byte";
  if (len > MAX_FUNCTION_NAME_BYTES) {
    return `the function name is ${len} bytes; gearmand allows at most ${MAX_FUNCTION_NAME_BYTES}`;
  }
  return undefined;
}

/** Returns a reason the unique is unusable, or undefined when it is fine (an empty unique is fine). */
export function uniqueProblem(unique: string | Uint8Array): string | undefined {
  const len = checkedLength(unique, MAX_UNIQUE_BYTES);
  const hasNul = typeof unique === "string" ? unique.includes("\0") : unique.includes(0);
  if (hasNul) return "the unique id contains a NUL byte";
  if (len > MAX_UNIQUE_BYTES) {
    return `the unique id is ${len} bytes; gearmand keeps at most ${MAX_UNIQUE_BYTES} intact`;
  }
  return undefined;
}

/** Throws {@link InvalidArgumentError} when the function name is unusable. */
export function assertFunctionName(name: string): void {
  const problem = functionNameProblem(name);
  if (problem) throw new InvalidArgumentError(`${problem} (${JSON.stringify(name.slice(0, 40))}); pass a non-empty name without NUL of at most ${MAX_FUNCTION_NAME_BYTES} bytes`);
}

/** Throws {@link InvalidArgumentError} when the unique is unusable. */
export function assertUnique(unique: string): void {
  const problem = uniqueProblem(unique);
  if (problem) throw new InvalidArgumentError(`${problem}; use at most ${MAX_UNIQUE_BYTES} bytes without NUL (hash longer keys)`);
}

/** Throws {@link InvalidArgumentError} when the reducer name is unusable: gearmand 1.1.20 holds it to its unique limit, 64 bytes. */
export function assertReducer(name: string): void {
  assertFunctionName(name);
  if (checkedLength(name, 64) > 64) throw new InvalidArgumentError("the reducer name is over 64 bytes, which gearmand refuses");
}
