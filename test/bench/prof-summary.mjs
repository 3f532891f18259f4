// Summarizes a .cpuprofile (node --cpu-prof): self time per function, top N, and total per file.
// Usage: node test/bench/prof-summary.mjs FILE.cpuprofile [N]
import { readFileSync } from "node:fs";

const [file, nArg] = process.argv.slice(2);
const prof = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i];
  self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fnAgg = new Map();
const fileAgg = new Map();
for (const [id, t] of self) {
  const cf = byId.get(id).callFrame;
  const f = (cf.url || "(native)").replace(/^file:\/\/.*\/(node_modules|dist|test)\//, "$1/");
  const key = `${cf.functionName || "(anon)"}  ${f}:${cf.lineNumber + 1}`;
  fnAgg.set(key, (fnAgg.get(key) ?? 0) + t);
  fileAgg.set(f, (fileAgg.get(f) ?? 0) + t);
}
const pct = (t) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
console.log(`total sampled ${(total / 1000).toFixed(0)} ms`);
for (const [k, t] of [...fnAgg].sort((a, b) => b[1] - a[1]).slice(0, Number(nArg ?? 25))) console.log(pct(t), k);
console.log("-- by file");
for (const [k, t] of [...fileAgg].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(pct(t), k);
