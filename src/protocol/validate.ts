// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Checks on function names and uniques, shared by the client (before sending) and the bridge
 * (before relaying). gearmand accepts some of these values and then misbehaves (protocol.md §1).
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import { encoder } from "./bytes.ts";
import { MAX_FUNCTION_NAME_BYTES, MAX_UNIQUE_BYTES } from "./constants.ts";

/** Byte length for a limit check: a UTF-16 unit is at most 3 UTF-8 bytes, so a string too short to pass the limit is not encoded (its length then stands in). */
function checkedLength(value: string | Uint8Array, limit: number): number {
  return typeof value !== "string" || value.length * 3 <= limit ? value.length : encoder.encode(value).length;
}

/** A reason a `what` of at most `limit` bytes is unusable (NUL inside, or too long), or undefined. */
function sizeOrNulProblem(value: string | Uint8Array, what: string, limit: number, rule: string): string | undefined {
  const len = checkedLength(value, limit);
  if (typeof value === "string" ? value.includes("\0") : value.includes(0)) return `the ${what} contains a NUL byte`;
  if (len > limit) return `the ${what} is ${len} bytes; gearmand ${rule}`;
  return undefined;
}

/** Returns a reason the function name is unusable, or undefined when it is fine. */
export function functionNameProblem(name: string | Uint8Array): string | undefined {
  if (name.length === 0) return "the function name is empty";
  return sizeOrNulProblem(name, "function name", MAX_FUNCTION_NAME_BYTES, `allows at most ${MAX_FUNCTION_NAME_BYTES}`);
}

/** Returns a reason the unique is unusable, or undefined when it is fine (an empty unique is fine). */
export function uniqueProblem(unique: string | Uint8Array): string | undefined {
  return sizeOrNulProblem(unique, "unique id", MAX_UNIQUE_BYTES, `keeps at most ${MAX_UNIQUE_BYTES} intact`);
}

/** Throws {@link InvalidArgumentError} when the function name is unusable. */
export function assertFunctionName(name: string): void {
  const problem = functionNameProblem(name);
  if (problem) throw new InvalidArgumentError(`${problem} (${JSON.stringify(name.slice(0, 40))}); use 1 to ${MAX_FUNCTION_NAME_BYTES} bytes without NUL`);
}

/** Throws {@link InvalidArgumentError} when the unique is unusable. */
export function assertUnique(unique: string): void {
  const problem = uniqueProblem(unique);
  if (problem) throw new InvalidArgumentError(`${problem}; use at most ${MAX_UNIQUE_BYTES} bytes without NUL (hash longer keys)`);
}

/** Throws {@link InvalidArgumentError} when the reducer name is unusable: gearmand 1.1.20 holds it to its unique limit, 64 bytes. */
export function assertReducer(name: string): void {
  assertFunctionName(name);
  if (checkedLength(name, 64) > 64) throw new InvalidArgumentError("reducer names may have at most 64 bytes");
}
