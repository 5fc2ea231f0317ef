// Summarises serve_load runs (one JSON per load level): a table per tier and a text plot of the
// p99 latency per tier and load, plus the targets. Usage: node serve_load_report.js A.json ...
const fs = require('fs');
const runs = process.argv.slice(2).map((p) => JSON.parse(fs.readFileSync(p)));
const tiers = ['urgent', 'normal', 'low'];
console.log('| load | tier | sent | ok | rejected (429) | timeout (504) | error | lost | p50 ms | p99 ms | queue p50 ms | queue p99 ms |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of runs)
  for (const t of tiers) {
    const v = r.tiers[t];
    console.log(`| ${r.load}x | ${t} | ${v.sent} | ${v.ok} | ${v.rejected} | ${v.timeout} | ${v.error} | ${v.lost} | ${v.p50_ms.toFixed(1)} | ${v.p99_ms.toFixed(1)} | ${v.queue_p50_ms.toFixed(1)} | ${v.queue_p99_ms.toFixed(1)} |`);
    if (v.lost) console.log(`|   | lost: ${JSON.stringify(v.lost_why)} |`);
  }
console.log('\n| load | offered req/s | answered req/s | energy per answered request | energy |');
console.log('|---|---|---|---|---|');
for (const r of runs) {
  const ok = tiers.reduce((s, t) => s + r.tiers[t].ok, 0);
  console.log(`| ${r.load}x | ${r.rate.toFixed(2)} | ${r.throughput_per_s.toFixed(2)} | ${(r.joules / Math.max(ok, 1) * 1e3).toFixed(3)} mJ | ${r.energy} |`);
}
const worst = Math.max(...runs.flatMap((r) => tiers.map((t) => r.tiers[t].p99_ms)));
console.log('\np99 latency (each # = ' + (worst / 50).toFixed(1) + ' ms)');
for (const r of runs)
  for (const t of tiers) {
    const p = r.tiers[t].p99_ms;
    console.log(`${(r.load + 'x').padStart(4)} ${t.padEnd(6)} ${'#'.repeat(Math.round((p / worst) * 50)).padEnd(50)} ${p.toFixed(1)}`);
  }
const byLoad = Object.fromEntries(runs.map((r) => [r.load, r]));
if (byLoad['0.5'] && byLoad['2']) {
  const a = byLoad['0.5'].tiers.urgent.p99_ms, b = byLoad['2'].tiers.urgent.p99_ms;
  console.log(`\ntarget: urgent p99 at 2x ${b.toFixed(1)} ms <= 1.5 x ${a.toFixed(1)} ms: ${b <= 1.5 * a ? 'met' : 'MISSED'} (${(b / a).toFixed(2)}x)`);
}
let sent = 0, accounted = 0, lost = 0;
for (const r of runs)
  for (const t of tiers) {
    const v = r.tiers[t];
    sent += v.sent;
    accounted += v.ok + v.rejected + v.timeout + v.error;
    lost += v.lost;
  }
console.log(`target: every request answered or rejected: ${sent} sent, ${accounted} answered/rejected, ${lost} lost: ${lost === 0 && sent === accounted ? 'met' : 'MISSED'}`);
