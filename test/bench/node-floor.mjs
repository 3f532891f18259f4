// The Node floor: the least a Node process can do for a Gearman client and worker, with node:net and
// nothing else (no validation, no reconnect, no events, no error handling). A calibration peer for
// the bench: what the runtime itself costs per job, so that the SDK's own share is visible.
//   worker: CAN_DO, GRAB_JOB_ALL per slot, PRE_SLEEP on NO_JOB, GRABs again on NOOP, echoes the workload back.
//   client: SUBMIT_JOB / SUBMIT_JOB_BG, JOB_CREATED matched in order, WORK_COMPLETE by handle.
import net from "node:net";

const T = { CAN_DO: 1, PRE_SLEEP: 4, NOOP: 6, SUBMIT_JOB: 7, JOB_CREATED: 8, NO_JOB: 10, JOB_ASSIGN: 11, WORK_COMPLETE: 13, WORK_FAIL: 14, SUBMIT_JOB_BG: 18, JOB_ASSIGN_UNIQ: 31, GRAB_JOB_ALL: 39, JOB_ASSIGN_ALL: 40 };
// Fields before the workload: gearmand answers GRAB_JOB_ALL with JOB_ASSIGN_UNIQ unless the job has a reducer.
const LEADING = { [T.JOB_ASSIGN]: 2, [T.JOB_ASSIGN_UNIQ]: 3, [T.JOB_ASSIGN_ALL]: 4 };
const REQ = Buffer.from("\0REQ", "latin1");

function packet(type, ...fields) {
  const body = Buffer.concat(fields.flatMap((f, i) => (i ? [Buffer.from([0]), Buffer.from(f)] : [Buffer.from(f)])));
  const h = Buffer.alloc(12);
  REQ.copy(h);
  h.writeUInt32BE(type, 4);
  h.writeUInt32BE(body.length, 8);
  return Buffer.concat([h, body]);
}

/** Calls `on(type, body)` for every packet; writes what the handlers queued once per read. */
function connect(port, on) {
  const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
  const out = [];
  let pending = Buffer.alloc(0);
  socket.on("data", (chunk) => {
    let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (buf.length >= 12) {
      const len = buf.readUInt32BE(8);
      if (buf.length < 12 + len) break;
      on(buf.readUInt32BE(4), buf.subarray(12, 12 + len), out);
      buf = buf.subarray(12 + len);
    }
    pending = buf;
    if (out.length) socket.write(Buffer.concat(out.splice(0)));
  });
  return { socket, out, ready: new Promise((r) => socket.once("connect", r)) };
}

export const nodeFloor = {
  name: "node:net floor",
  async worker({ port, fn, slots }) {
    // GRABs not answered yet: PRE_SLEEP only once all are (a PRE_SLEEP per NO_JOB can leave gearmand
    // believing a busy worker asleep, and then nothing wakes it).
    let grabs = slots;
    const c = connect(port, (type, body, out) => {
      if (type === T.NOOP) {
        for (; grabs < slots; grabs++) out.push(packet(T.GRAB_JOB_ALL));
      } else if (type === T.NO_JOB) {
        if (--grabs === 0) out.push(packet(T.PRE_SLEEP));
      } else if (LEADING[type]) {
        let at = 0;
        let handle;
        for (let i = 0; i < LEADING[type]; i++) {
          const nul = body.indexOf(0, at);
          handle ??= body.subarray(0, nul);
          at = nul + 1;
        }
        out.push(packet(T.WORK_COMPLETE, handle, body.subarray(at)), packet(T.GRAB_JOB_ALL));
      }
    });
    await c.ready;
    c.socket.write(Buffer.concat([packet(T.CAN_DO, fn), ...Array.from({ length: slots }, () => packet(T.GRAB_JOB_ALL))]));
    return { connections: 1, close: async () => c.socket.destroy() };
  },
  async client({ port }) {
    const created = [];
    const running = new Map();
    const c = connect(port, (type, body) => {
      if (type === T.JOB_CREATED) {
        const handle = body.toString("latin1");
        const w = created.shift();
        if (w.background) w.resolve(handle);
        else running.set(handle, w);
      } else if (type === T.WORK_COMPLETE || type === T.WORK_FAIL) {
        const nul = body.indexOf(0);
        const handle = body.subarray(0, nul < 0 ? body.length : nul).toString("latin1");
        const w = running.get(handle);
        running.delete(handle);
        if (type === T.WORK_COMPLETE) w?.resolve(body.subarray(nul + 1));
        else w?.reject(new Error("WORK_FAIL"));
      }
    });
    await c.ready;
    let flush = false;
    const send = (p) => {
      c.out.push(p);
      if (flush) return;
      flush = true;
      setImmediate(() => {
        flush = false;
        c.socket.write(Buffer.concat(c.out.splice(0)));
      });
    };
    const submit = (fn, payload, background) => new Promise((resolve, reject) => {
      created.push({ resolve, reject, background });
      send(packet(background ? T.SUBMIT_JOB_BG : T.SUBMIT_JOB, fn, background ? `u${created.length}-${Math.random()}` : "", payload));
    });
    return {
      submit: (fn, payload) => submit(fn, payload, false),
      background: (fn, payload) => submit(fn, payload, true),
      close: async () => c.socket.destroy(),
    };
  },
};
