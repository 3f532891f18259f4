// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * The job store: functions, their three priority queues, jobs by handle and by unique, and every
 * state change a job goes through (create, coalesce, grab, requeue, finish, cancel, abandon).
 * Where gearmand 1.1.20 has a bug this follows the correct behaviour instead; each case is noted.
 * @module
 */
import { bytesEqual } from "../protocol/bytes.ts";
import { PacketType } from "../protocol/packet-types.ts";
import { keepBytes, latin1, latin1Bytes } from "./latin1.ts";
import { type Ability, FunctionEntry, type Job, type Peer, type PriorityValue } from "./model.ts";
import type { ResolvedServerOptions } from "./options.ts";

/** What a SUBMIT_* packet asks for. */
export interface JobRequest {
  /** Function name bytes. */
  fn: Uint8Array;
  /** Unique bytes (may be empty). */
  unique: Uint8Array;
  /** Reducer bytes (empty unless a reduce submit). */
  reducer: Uint8Array;
  /** Workload. */
  data: Uint8Array;
  /** Queue. */
  priority: PriorityValue;
  /** Epoch seconds, 0 = now. */
  when: number;
  /** The submitter waits for results (null for a background submit). */
  client: Peer | undefined;
}

const MAX_TIMER = 0x7fffffff;
// gearmand's CAN_DO_TIMEOUT has a one-second floor.
const MIN_JOB_TIMEOUT = 1000;

function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

function isDash(unique: Uint8Array): boolean {
  return unique.length === 1 && unique[0] === 0x2d;
}

/** Functions, queues and jobs of one server. */
export class JobQueue {
  /** Functions by name (one character per byte), in creation order. */
  readonly functions: Map<string, FunctionEntry> = new Map();
  /** Live jobs by handle, in creation order. */
  readonly jobs: Map<string, Job> = new Map();
  readonly #opts: ResolvedServerOptions;
  #counter = 0;
  #rotation = 0;

  constructor(options: ResolvedServerOptions) {
    this.#opts = options;
  }

  /** The function of that name, created unless `create` is false (gearmand never forgets a name). */
  fn(name: Uint8Array, create: true): FunctionEntry;
  fn(name: Uint8Array, create: boolean): FunctionEntry | undefined;
  fn(name: Uint8Array, create: boolean): FunctionEntry | undefined {
    const key = latin1(name);
    let fn = this.functions.get(key);
    if (!fn && create) {
      fn = new FunctionEntry(key, keepBytes(name), this.#opts.maxQueue);
      this.functions.set(key, fn);
    }
    return fn;
  }

  /**
   * Submits a job. Returns the existing job when (function, unique) matches a queued or running
   * one, `full` when maxqueue is reached, else the new job.
   */
  submit(req: JobRequest): Job | "full" {
    const fn = this.fn(req.fn, true);
    const existing = this.#findCoalesce(fn, req.unique, req.data);
    if (existing) {
      // gearmand leaves a cancelled or abandoned job flagged, so the new submitter waits for a job
      // that will be dropped at the next grab and hangs forever; reviving it gives them a result.
      existing.ignore = false;
      if (req.client) this.listen(existing, req.client);
      // gearmand drops a background submit coalesced onto a foreground job when that job's clients
      // leave; remembering it keeps the job alive.
      else existing.background = true;
      return existing;
    }
    const max = fn.maxQueue[req.priority];
    if (max > 0 && fn.total >= max) return "full";
    const handle = `H:${this.#opts.name}:${++this.#counter}`;
    const dash = isDash(req.unique);
    const job: Job = {
      handle,
      handleBytes: latin1Bytes(handle),
      fn,
      unique: keepBytes(req.unique),
      coalesceKey: req.unique.length > 0 && !dash ? latin1(req.unique) : undefined,
      reducer: keepBytes(req.reducer),
      data: keepBytes(req.data),
      priority: req.priority,
      when: req.when,
      background: !req.client,
      queuedFlag: !req.client,
      listeners: [],
      worker: undefined,
      retries: 0,
      numerator: 0,
      denominator: 0,
      ignore: false,
      timer: undefined,
      prev: undefined,
      next: undefined,
      list: undefined,
    };
    fn.total++;
    this.jobs.set(handle, job);
    if (job.coalesceKey !== undefined) fn.uniques.set(job.coalesceKey, job);
    else if (dash && req.data.length > 0) {
      const h = fnv1a(job.data);
      const bucket = fn.dataUniques.get(h);
      if (bucket) bucket.push(job);
      else fn.dataUniques.set(h, [job]);
    }
    if (req.client) this.listen(job, req.client);
    this.#enqueue(job);
    return job;
  }

  /** Adds a foreground listener. */
  listen(job: Job, client: Peer): void {
    job.listeners.push(client);
    client.listening.add(job);
  }

  /** The job GET_STATUS_UNIQUE reports: the first job with that unique in any function. */
  byUnique(unique: Uint8Array): Job | undefined {
    if (unique.length === 0) return undefined;
    const key = latin1(unique);
    for (const fn of this.functions.values()) {
      const job = fn.uniques.get(key);
      if (job) return job;
    }
    return undefined;
  }

  /** True when a grab by this worker would find a job. Drops abandoned jobs on the way, as gearmand does. */
  hasWork(peer: Peer): boolean {
    return this.#scan(peer, false) !== undefined;
  }

  /** Takes the next job for this worker and assigns it, or returns undefined. */
  grab(peer: Peer): Job | undefined {
    const found = this.#scan(peer, true);
    if (!found) return undefined;
    const [job, ability] = found;
    job.worker = peer;
    peer.held.push(job);
    job.fn.running++;
    if (ability.timeout > 0) {
      // One timer per job: gearmand keeps one per connection, bound to the first job it ever ran.
      job.timer = setTimeout(() => {
        job.timer = undefined;
        if (job.worker === peer) this.requeue(job);
      }, Math.max(MIN_JOB_TIMEOUT, Math.min(ability.timeout, MAX_TIMER)));
    }
    return job;
  }

  /** The job with this handle if `peer` runs it (WORK_* packets are only accepted from the holder). */
  held(peer: Peer, handle: Uint8Array): Job | undefined {
    for (const job of peer.held) if (bytesEqual(job.handleBytes, handle)) return job;
    return undefined;
  }

  /** Puts a running job back at the tail of its queue (worker lost, CANT_DO, timeout), or fails it once retries run out. */
  requeue(job: Job): void {
    const worker = job.worker;
    if (!worker) return;
    this.#clearTimer(job);
    worker.held.splice(worker.held.indexOf(job), 1);
    job.worker = undefined;
    job.fn.running--;
    job.retries++;
    if (this.#opts.jobRetries > 0 && job.retries >= this.#opts.jobRetries) {
      for (const client of job.listeners) client.send(PacketType.WORK_FAIL, [job.handleBytes]);
      this.finish(job);
      return;
    }
    job.numerator = 0;
    job.denominator = 0;
    this.#enqueue(job);
  }

  /** Requeues every job the worker holds for `fn` (all functions when omitted), newest first as gearmand does. */
  release(peer: Peer, fn?: FunctionEntry): void {
    for (let i = peer.held.length - 1; i >= 0; i--) {
      const job = peer.held[i];
      if (job && (!fn || job.fn === fn)) this.requeue(job);
    }
  }

  /** A client went away: its jobs lose it as a listener, and foreground jobs nobody waits for are abandoned. */
  abandon(peer: Peer): void {
    for (const job of peer.listening) {
      job.listeners = job.listeners.filter((c) => c !== peer);
      if (job.listeners.length === 0 && !job.background) {
        job.ignore = true;
        job.queuedFlag = false;
      }
    }
    peer.listening.clear();
  }

  /**
   * Admin `cancel job`: WORK_FAIL to every listener, then the job is dropped at its next grab. Unlike
   * gearmand, the failed listeners are detached, so a running job's later WORK_* no longer reach them.
   */
  cancel(handle: string): boolean {
    const job = this.jobs.get(handle);
    if (!job) return false;
    for (const client of job.listeners) {
      client.send(PacketType.WORK_FAIL, [job.handleBytes]);
      client.listening.delete(job);
    }
    job.listeners = [];
    job.ignore = true;
    job.queuedFlag = false;
    return true;
  }

  /** Removes a job for good (finished, failed, dropped). */
  finish(job: Job): void {
    this.#clearTimer(job);
    job.list?.remove(job);
    if (job.worker) {
      job.worker.held.splice(job.worker.held.indexOf(job), 1);
      job.worker = undefined;
      job.fn.running--;
    }
    job.fn.total--;
    this.jobs.delete(job.handle);
    const fn = job.fn;
    if (job.coalesceKey !== undefined && fn.uniques.get(job.coalesceKey) === job) fn.uniques.delete(job.coalesceKey);
    else if (isDash(job.unique) && job.data.length > 0) {
      const h = fnv1a(job.data);
      const bucket = fn.dataUniques.get(h)?.filter((j) => j !== job);
      if (bucket && bucket.length > 0) fn.dataUniques.set(h, bucket);
      else fn.dataUniques.delete(h);
    }
    for (const client of job.listeners) client.listening.delete(job);
    job.listeners = [];
  }

  /** Registers or re-registers a function for a worker; a repeat moves it to the front and updates the timeout. */
  addAbility(peer: Peer, name: Uint8Array, timeout: number): void {
    const fn = this.fn(name, true);
    const at = peer.abilities.findIndex((a) => a.fn === fn);
    // gearmand keeps a duplicate entry (admin `workers` lists the name twice, `status` counts two
    // workers); one entry per function is what a worker means by registering again.
    if (at >= 0) peer.abilities.splice(at, 1);
    peer.abilities.unshift({ fn, timeout });
    fn.workers.add(peer);
  }

  /** Unregisters one function (CANT_DO), requeueing the jobs of it the worker holds. */
  removeAbility(peer: Peer, name: Uint8Array): void {
    const fn = this.fn(name, false);
    if (!fn) return;
    const at = peer.abilities.findIndex((a) => a.fn === fn);
    if (at < 0) return;
    this.release(peer, fn);
    peer.abilities.splice(at, 1);
    fn.workers.delete(peer);
  }

  /** Unregisters everything (RESET_ABILITIES, disconnect), requeueing every held job. */
  resetAbilities(peer: Peer): void {
    for (const a of peer.abilities) this.release(peer, a.fn);
    this.release(peer);
    for (const a of peer.abilities) a.fn.workers.delete(peer);
    peer.abilities.length = 0;
  }

  /** Stops every timer (server shutdown). */
  close(): void {
    for (const job of this.jobs.values()) this.#clearTimer(job);
  }

  #findCoalesce(fn: FunctionEntry, unique: Uint8Array, data: Uint8Array): Job | undefined {
    if (unique.length === 0) return undefined;
    if (!isDash(unique)) return fn.uniques.get(latin1(unique));
    if (data.length === 0) return undefined;
    return fn.dataUniques.get(fnv1a(data))?.find((j) => bytesEqual(j.data, data));
  }

  #enqueue(job: Job): void {
    job.fn.queues[job.priority].push(job);
    const wait = job.when * 1000 - Date.now();
    // gearmand wakes sleepers when a future epoch job is queued (they find nothing) and never when
    // it falls due; waking them at the due time is what makes epoch jobs run on time.
    if (job.when !== 0 && wait > 0) this.#armEpoch(job, wait);
    else this.#wake(job.fn);
  }

  #armEpoch(job: Job, wait: number): void {
    job.timer = setTimeout(() => {
      job.timer = undefined;
      if (!job.list) return;
      const left = job.when * 1000 - Date.now();
      if (left > 0) this.#armEpoch(job, left);
      else this.#wake(job.fn);
    }, Math.min(wait, MAX_TIMER));
  }

  #wake(fn: FunctionEntry): void {
    const limit = this.#opts.workerWakeup;
    if (limit === 0) {
      for (const w of fn.workers) this.#noop(w);
      return;
    }
    // With a wake-up limit, start where the previous wake-up stopped, as gearmand rotates its list.
    const workers = [...fn.workers];
    const start = workers.length > 0 ? this.#rotation++ % workers.length : 0;
    let sent = 0;
    for (let i = 0; i < workers.length && sent < limit; i++) {
      if (this.#noop(workers[(start + i) % workers.length]!)) sent++;
    }
  }

  #noop(w: Peer): boolean {
    if (!w.sleeping || w.noopSent) return false;
    w.noopSent = true;
    w.send(PacketType.NOOP, []);
    return true;
  }

  #scan(peer: Peer, take: boolean): [Job, Ability] | undefined {
    const now = Date.now();
    for (const ability of peer.abilities) {
      for (const list of ability.fn.queues) {
        let job = list.head;
        while (job) {
          const next = job.next;
          if (job.when !== 0 && job.when * 1000 > now) {
            job = next;
            continue;
          }
          if (job.ignore) {
            this.finish(job);
          } else {
            if (take) {
              list.remove(job);
              this.#clearTimer(job);
            }
            return [job, ability];
          }
          job = next;
        }
      }
    }
    return undefined;
  }

  #clearTimer(job: Job): void {
    if (job.timer !== undefined) {
      clearTimeout(job.timer);
      job.timer = undefined;
    }
  }
}
