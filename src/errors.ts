// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Typed errors. Every error of this SDK is a {@link GearmanError} with a stable `code`; the
 * subclasses name one failure mode each. `name` is a literal so it survives minification.
 * @module
 */

/** Stable error codes, one per failure mode. */
export const ErrorCode = {
  CONNECTION: "GEARMAN_CONNECTION",
  PROTOCOL: "GEARMAN_PROTOCOL",
  SERVER: "GEARMAN_SERVER_ERROR",
  JOB_FAILED: "GEARMAN_JOB_FAILED",
  JOB_EXCEPTION: "GEARMAN_JOB_EXCEPTION",
  TIMEOUT: "GEARMAN_TIMEOUT",
  ABORTED: "GEARMAN_ABORTED",
  INVALID_ARGUMENT: "GEARMAN_INVALID_ARGUMENT",
  CLOSED: "GEARMAN_CLOSED",
  POLICY: "GEARMAN_POLICY_DENIED",
} as const;
/** One of {@link ErrorCode}'s values. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** UTF-8 text of a payload (errors.ts imports nothing, so the codec's helpers are not used here). */
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** Base class of every error this SDK throws or rejects with. */
export class GearmanError extends Error {
  /** Always `"GearmanError"`. */
  override name = "GearmanError";
  /** Stable machine-readable code, one of {@link ErrorCode}. */
  readonly code: ErrorCodeValue;
  /** An error with a stable `code` (one of {@link ErrorCode}); `options.cause` keeps the underlying error. */
  constructor(code: ErrorCodeValue, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** A connection could not be opened, or was lost. `cause` holds the runtime's error. */
export class ConnectionError extends GearmanError {
  /** Always `"ConnectionError"`. */
  override name = "ConnectionError";
  /** The server address, e.g. `tcp://127.0.0.1:4730`, when known. */
  readonly server: string | undefined;
  /** `options.cause` holds the runtime's error, `options.server` the address that failed. */
  constructor(message: string, options?: ErrorOptions & { server?: string | undefined }) {
    super(ErrorCode.CONNECTION, message, options);
    this.server = options?.server;
  }
}

/** Why a byte stream is not valid Gearman. */
export type ProtocolErrorReason =
  | "bad_magic"
  | "unknown_type"
  | "too_large"
  | "truncated"
  | "bad_arguments"
  | "unexpected_packet"
  | "bad_admin_response";

/** Bytes that are not valid Gearman: bad magic, unknown type, oversized, truncated, wrong fields. */
export class ProtocolError extends GearmanError {
  /** Always `"ProtocolError"`. */
  override name = "ProtocolError";
  /** What exactly was wrong. */
  readonly reason: ProtocolErrorReason;
  /** `reason` says what exactly was wrong, `message` says it for people. */
  constructor(reason: ProtocolErrorReason, message: string, options?: ErrorOptions) {
    super(ErrorCode.PROTOCOL, message, options);
    this.reason = reason;
  }
}

/** The server answered with an ERROR packet (e.g. `QUEUE_ERROR` when maxqueue is reached). */
export class ServerError extends GearmanError {
  /** Always `"ServerError"`. */
  override name = "ServerError";
  /** gearmand's code, e.g. `QUEUE_ERROR`, `JOB_NOT_FOUND`, `ARGUMENT_TOO_LARGE`. */
  readonly serverCode: string;
  /** gearmand's text. */
  readonly serverText: string;
  /** From an ERROR packet: gearmand's code (e.g. `QUEUE_ERROR`) and text. */
  constructor(serverCode: string, serverText: string) {
    super(ErrorCode.SERVER, `gearmand answered ERROR ${serverCode}: ${serverText}`);
    this.serverCode = serverCode;
    this.serverText = serverText;
  }
}

/** The job ended with WORK_FAIL. `warnings` holds the WORK_WARNING payloads that came before. */
export class JobFailedError extends GearmanError {
  /** Always `"JobFailedError"`. */
  override name = "JobFailedError";
  /** The job handle. */
  readonly handle: string;
  /** WORK_WARNING payloads received before the failure, in order. */
  readonly warnings: readonly Uint8Array[];
  /** For job `handle`, with the WORK_WARNING payloads that came before the WORK_FAIL (the last one goes in the message). */
  constructor(handle: string, warnings: readonly Uint8Array[] = []) {
    const last = warnings.length > 0 ? `: ${text(warnings[warnings.length - 1]!)}` : "";
    super(ErrorCode.JOB_FAILED, `job ${handle} failed${last}`);
    this.handle = handle;
    this.warnings = warnings;
  }
}

/** The job ended with WORK_EXCEPTION. `data` is the exception payload, `text` its UTF-8 reading. */
export class JobExceptionError extends GearmanError {
  /** Always `"JobExceptionError"`. */
  override name = "JobExceptionError";
  /** The job handle. */
  readonly handle: string;
  /** The raw exception payload. */
  readonly data: Uint8Array;
  /** The exception payload decoded as UTF-8. */
  readonly text: string;
  /** For job `handle`, with the WORK_EXCEPTION payload `data`. */
  constructor(handle: string, data: Uint8Array) {
    const decoded = text(data);
    super(ErrorCode.JOB_EXCEPTION, `job ${handle} threw: ${decoded}`);
    this.handle = handle;
    this.data = data;
    this.text = decoded;
  }
}

/** An operation did not finish in time. */
export class TimeoutError extends GearmanError {
  /** Always `"TimeoutError"`. */
  override name = "TimeoutError";
  /** `options.cause` holds what timed out underneath, when anything did. */
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.TIMEOUT, message, options);
  }
}

/** An operation was aborted through an `AbortSignal`. `cause` holds the signal's reason. */
export class AbortError extends GearmanError {
  /** Always `"AbortError"`. */
  override name = "AbortError";
  /** `options.cause` holds the signal's reason. */
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.ABORTED, message, options);
  }
}

/** An argument was rejected before anything was sent (empty function name, unique too long, …). */
export class InvalidArgumentError extends GearmanError {
  /** Always `"InvalidArgumentError"`. */
  override name = "InvalidArgumentError";
  /** `message` says what was rejected and what is expected instead. */
  constructor(message: string) {
    super(ErrorCode.INVALID_ARGUMENT, message);
  }
}

/** The client or worker was closed; nothing more can be sent through it. */
export class ClosedError extends GearmanError {
  /** Always `"ClosedError"`. */
  override name = "ClosedError";
  /** `message` says why nothing more can be sent. */
  constructor(message = "the client is closed: create a new one") {
    super(ErrorCode.CLOSED, message);
  }
}

/** The WebSocket close codes of a bridge's policy: 1002 bad packet, 1003 not allowed, 1008 policy (rate, slow consumer, …), 1009 too big, 4401 token expired. */
export type PolicyCloseCode = 1002 | 1003 | 1008 | 1009 | 4401;

/** A bridge refused something this peer sent or was (WebSocket close 1002/1003/1008/1009/4401). */
export class PolicyError extends GearmanError {
  /** Always `"PolicyError"`. */
  override name = "PolicyError";
  /** The WebSocket close code the bridge used. */
  readonly closeCode: PolicyCloseCode;
  /** The bridge's human-readable reason. */
  readonly reason: string;
  /** From the bridge's WebSocket close code and reason. */
  constructor(closeCode: PolicyCloseCode, reason: string) {
    super(ErrorCode.POLICY, `the bridge closed the connection (${closeCode})${reason ? `: ${reason}` : ""}`);
    this.closeCode = closeCode;
    this.reason = reason;
  }
}
