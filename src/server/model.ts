// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * The job server's records: functions with three priority queues, jobs, and what the queue needs
 * to know about a connection ({@link Peer}).
 * @module
 */
import type { PacketArg } from "../protocol/packet.ts";

/** Queue priorities, in the order a grab looks at them. */
export const Priority = { HIGH: 0, NORMAL: 1, LOW: 2 } as const;
/** One of {@link Priority}'s values. */
export type PriorityValue = (typeof Priority)[keyof typeof Priority];

/** A function a worker connection registered, with its CAN_DO_TIMEOUT in ms (0 = none). */
export interface Ability {
  /** The function. */
  readonly fn: FunctionEntry;
  /** Milliseconds a job may run before it is requeued; 0 = no limit. */
  timeout: number;
}

/** What the queue needs from a connection: its worker and listener state, and a way to send. */
export interface Peer {
  /** A number unique among live connections (gearmand shows its file descriptor). */
  readonly id: number;
  /** Sent PRE_SLEEP and has not grabbed since. */
  sleeping: boolean;
  /** A NOOP went out during the current sleep. */
  noopSent: boolean;
  /** Set by OPTION_REQ `exceptions`. */
  exceptions: boolean;
  /** Registered functions, newest first (the order gearmand serves them in). */
  readonly abilities: Ability[];
  /** Jobs assigned to this connection, oldest first. */
  readonly held: Job[];
  /** Foreground jobs this connection submitted and still waits for. */
  readonly listening: Set<Job>;
  /** Queues one packet for the peer. */
  send(type: number, args: readonly PacketArg[]): void;
}

/** One job, queued or running. */
export interface Job {
  /** `H:<name>:<n>`. */
  readonly handle: string;
  /** The handle as bytes, written into every packet about the job. */
  readonly handleBytes: Uint8Array;
  /** The function it runs under. */
  readonly fn: FunctionEntry;
  /** The unique as sent (`-` stays `-`). */
  readonly unique: Uint8Array;
  /** The key it is coalesced under in its function, if any. */
  readonly coalesceKey: string | undefined;
  /** The reducer function name of a reduce job, or empty. */
  readonly reducer: Uint8Array;
  /** The workload. */
  readonly data: Uint8Array;
  /** Queue it goes back to when requeued. */
  readonly priority: PriorityValue;
  /** Epoch seconds before which it is not handed out; 0 = now. */
  readonly when: number;
  /** A background submit asked for it, so losing every listener does not abandon it. */
  background: boolean;
  /** The QUEUED column of admin `show jobs`: created by a background submit and not cancelled. */
  queuedFlag: boolean;
  /** Connections waiting for its WORK_* packets; a connection that submitted twice is here twice. */
  listeners: Peer[];
  /** The worker connection running it. */
  worker: Peer | undefined;
  /** Requeue count. */
  retries: number;
  /** Last WORK_STATUS, as gearmand stores it. */
  numerator: number;
  /** Last WORK_STATUS, as gearmand stores it. */
  denominator: number;
  /** Nobody wants the result (cancelled, or its last client left): dropped when next grabbed. */
  ignore: boolean;
  /** The epoch wake-up timer while queued, or the CAN_DO_TIMEOUT timer while running. */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Queue links (intrusive, so that removal from the middle is O(1)). */
  prev: Job | undefined;
  /** Queue links. */
  next: Job | undefined;
  /** The queue it is in, if queued. */
  list: JobList | undefined;
}

/** A FIFO of jobs linked through the jobs themselves. */
export class JobList {
  /** Oldest job. */
  head: Job | undefined;
  /** Newest job. */
  tail: Job | undefined;
  /** Number of jobs. */
  size = 0;

  /** Appends at the tail. */
  push(job: Job): void {
    job.prev = this.tail;
    job.next = undefined;
    if (this.tail) this.tail.next = job;
    else this.head = job;
    this.tail = job;
    job.list = this;
    this.size++;
  }

  /** Unlinks a job that is in this list. */
  remove(job: Job): void {
    if (job.prev) job.prev.next = job.next;
    else this.head = job.next;
    if (job.next) job.next.prev = job.prev;
    else this.tail = job.prev;
    job.prev = job.next = job.list = undefined;
    this.size--;
  }
}

/** A function name the server knows, with its queues and its workers. */
export class FunctionEntry {
  /** The name, one character per byte. */
  readonly name: string;
  /** The name as bytes. */
  readonly nameBytes: Uint8Array;
  /** High, normal and low queues. */
  readonly queues: readonly [JobList, JobList, JobList] = [new JobList(), new JobList(), new JobList()];
  /** Jobs held by workers. */
  running = 0;
  /** Jobs queued or running (what maxqueue limits and admin `status` shows). */
  total = 0;
  /** Connections that registered the function. */
  readonly workers: Set<Peer> = new Set();
  /** Per-priority limits on `total`; 0 = none. */
  maxQueue: [number, number, number];
  /** Jobs by unique. */
  readonly uniques: Map<string, Job> = new Map();
  /** Jobs submitted with unique `-`, by a hash of their workload (gearmand coalesces those on the data). */
  readonly dataUniques: Map<number, Job[]> = new Map();

  constructor(name: string, nameBytes: Uint8Array, maxQueue: number) {
    this.name = name;
    this.nameBytes = nameBytes;
    this.maxQueue = [maxQueue, maxQueue, maxQueue];
  }

  /** Jobs waiting in the queues. */
  get queued(): number {
    return this.queues[0].size + this.queues[1].size + this.queues[2].size;
  }
}
