// Codec in memory (no sockets): PacketDecoder over a pre-built byte stream cut into 64 KiB chunks,
// as a socket delivers it, against a plain Uint8Array.set copy of the same chunks. Prints one JSON line.
//   small: WORK_COMPLETE packets with a 100 B payload -> packets/s (and MB/s)
//   large: WORK_COMPLETE packets with a 64 KiB payload -> MB/s; "straddling" = 64 KiB socket chunks
//          (every packet crosses a chunk boundary, so its body is assembled), "aligned" = one packet
//          per chunk (zero-copy fast path)
//   encode: PacketWriter, SUBMIT_JOB with a 100 B payload -> packets/s
import { parseArgs } from "./lib.mjs";

const a = parseArgs();
const DIST = process.env.GEARMAN_SDK_DIST ?? new URL("../../dist/node.js", import.meta.url).href;
const { PacketDecoder, PacketWriter, PacketType } = await import(DIST);
const budgetMs = Number(a.ms ?? 600);

function stream(count, payloadSize) {
  const w = new PacketWriter(1 << 16);
  const payload = new Uint8Array(payloadSize).map((_, i) => 97 + (i % 26));
  for (let i = 0; i < count; i++) w.write(PacketType.WORK_COMPLETE, [`H:bench-host:${100000 + i}`, payload], "res");
  return w.take();
}

function chunks(bytes, size) {
  const out = [];
  for (let off = 0; off < bytes.length; off += size) out.push(bytes.subarray(off, Math.min(bytes.length, off + size)));
  return out;
}

/**
 * Runs the passes interleaved (A, B, C, A, B, C, ...) for about budgetMs after a warm-up, so that
 * the noise of a shared machine hits all of them alike; returns passes per second for each.
 */
function rates(...fns) {
  for (const fn of fns) for (let i = 0; i < 3; i++) fn();
  const spent = fns.map(() => 0);
  let passes = 0;
  const t0 = performance.now();
  do {
    for (let i = 0; i < fns.length; i++) {
      const s = performance.now();
      fns[i]();
      spent[i] += performance.now() - s;
    }
    passes++;
  } while (performance.now() - t0 < budgetMs * fns.length);
  return spent.map((ms) => passes / (ms / 1000));
}

function decodePass(parts, expect) {
  return () => {
    const d = new PacketDecoder({ expect: "res" });
    let n = 0;
    for (const c of parts) n += d.push(c).length;
    if (n !== expect) throw new Error(`decoded ${n} of ${expect}`);
  };
}

function copyPass(parts, dst) {
  return () => {
    for (const c of parts) dst.set(c, 0);
  };
}

/** The same copy into a fresh array per chunk (what any owner of the bytes pays: allocation + copy). */
function allocCopyPass(parts) {
  return () => {
    for (const c of parts) new Uint8Array(c.length).set(c, 0);
  };
}

const out = {};
{
  const count = 20_000;
  const bytes = stream(count, 100);
  const parts = chunks(bytes, 65536);
  const dst = new Uint8Array(65536);
  const [dec, cp] = rates(decodePass(parts, count), copyPass(parts, dst));
  out.small = { packets: count, bytes: bytes.length, packetsPerSec: dec * count, mbPerSec: (dec * bytes.length) / 1e6, copyMbPerSec: (cp * bytes.length) / 1e6 };
  out.small.ratio = out.small.mbPerSec / out.small.copyMbPerSec;
}
for (const [name, chunkSize] of [["straddling", 65536], ["aligned", 0]]) {
  const count = 256; // 16 MiB of payload per pass
  const bytes = stream(count, 65536);
  const packetLen = bytes.length / count;
  const parts = chunks(bytes, chunkSize || packetLen);
  const dst = new Uint8Array(Math.max(65536, packetLen));
  const [dec, cp, acp] = rates(decodePass(parts, count), copyPass(parts, dst), allocCopyPass(parts));
  out[name] = {
    packets: count, bytes: bytes.length, chunk: chunkSize || packetLen, mbPerSec: (dec * bytes.length) / 1e6,
    copyMbPerSec: (cp * bytes.length) / 1e6, allocCopyMbPerSec: (acp * bytes.length) / 1e6,
  };
  out[name].ratio = out[name].mbPerSec / out[name].copyMbPerSec;
  out[name].ratioAllocCopy = out[name].mbPerSec / out[name].allocCopyMbPerSec;
}
{
  const payload = new Uint8Array(100).fill(97);
  const n = 10_000;
  const [enc] = rates(() => {
    const w = new PacketWriter();
    for (let i = 0; i < n; i++) w.write(PacketType.SUBMIT_JOB, ["echo", "", payload]);
    w.take();
  });
  out.encode = { packetsPerSec: enc * n };
}
process.stdout.write(`${JSON.stringify(out)}\n`);
