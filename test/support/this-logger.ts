// Node: a logger like pino's or winston's, whose methods need their `this`, for the logger tests.
import type { Logger } from "../../src/core/events.ts";

/** Keeps its lines on the instance, as pino's and winston's loggers keep their state: an unbound call has no `this`. */
export class ThisLogger implements Logger {
  readonly lines: string[] = [];
  debug(message: string): void {
    this.lines.push(`debug ${message}`);
  }
  warn(message: string): void {
    this.lines.push(`warn ${message}`);
  }
  error(message: string): void {
    this.lines.push(`error ${message}`);
  }
}
