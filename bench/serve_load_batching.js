// Summarises bench/serve_load.sh part 2 (batching on and off, short requests).
//   node serve_load_batching.js closed FILES...   closed-loop rounds: medians per configuration,
//                                                 paired ratios per round, and "capacity-off N"
//   node serve_load_batching.js open FILES...     open-loop runs at fixed rates
// Each file is serve_load's JSON plus max_batch, delay_us, cpu_s (server CPU during the load),
// ctx (its voluntary context switches) and mean_batch, added by the script.
const fs = require('fs');
const [mode, ...files] = process.argv.slice(2);
const runs = files.map((f) => ({file: f, ...JSON.parse(fs.readFileSync(f))}));
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const name = (r) => (r.max_batch <= 1 ? 'off' : `max batch ${r.max_batch}, delay ${r.delay_us / 1000} ms`);
const ok = (r) => r.tiers.normal.ok;
const cpuPerRequest = (r) => (r.cpu_s * 1e3) / Math.max(ok(r), 1);  // ms

if (mode === 'closed') {
  const groups = {};
  for (const r of runs) (groups[name(r)] ??= []).push(r);
  console.log('| batching | rounds | throughput req/s (median; min-max) | server CPU ms per request (median) | capacity of 2 dedicated cores (2000 / CPU ms) | context switches per request | mean batch | lost or errors |');
  console.log('|---|---|---|---|---|---|---|---|');
  const med = {};
  for (const [n, rs] of Object.entries(groups)) {
    const tp = rs.map((r) => r.throughput_per_s), cpu = rs.map(cpuPerRequest);
    med[n] = {tp: median(tp), cpu: median(cpu)};
    const bad = rs.reduce((s, r) => s + r.tiers.normal.lost + r.tiers.normal.error, 0);
    console.log(`| ${n} | ${rs.length} | ${median(tp).toFixed(1)} (${Math.min(...tp).toFixed(0)}-${Math.max(...tp).toFixed(0)}) | ${median(cpu).toFixed(3)} | ` +
      `${(2000 / median(cpu)).toFixed(0)} | ${median(rs.map((r) => r.ctx / Math.max(ok(r), 1))).toFixed(1)} | ${median(rs.map((r) => r.mean_batch)).toFixed(2)} | ${bad} |`);
  }
  // Paired per round: the runs of one round ran back to back, so they saw similar machine load.
  const off = groups.off ?? [];
  for (const [n, rs] of Object.entries(groups)) {
    if (n === 'off') continue;
    const ratios = rs.map((r, i) => (off[i] ? r.throughput_per_s / off[i].throughput_per_s : NaN)).filter((x) => !Number.isNaN(x));
    const cpuRatios = rs.map((r, i) => (off[i] ? cpuPerRequest(off[i]) / cpuPerRequest(r) : NaN)).filter((x) => !Number.isNaN(x));
    console.log(`${n}: throughput ${(med[n].tp / med.off.tp).toFixed(2)}x batching off (medians; per round ${ratios.map((x) => x.toFixed(2)).join(', ')}), ` +
      `CPU per request ${(med.off.cpu / med[n].cpu).toFixed(2)}x less (per round ${cpuRatios.map((x) => x.toFixed(2)).join(', ')}); target >= 1.3x`);
  }
  console.log(`capacity-off ${med.off.tp.toFixed(2)}`);
} else {
  console.log('| offered req/s | batching | answered req/s | ok | rejected | timeout | lost | p50 ms | p99 ms | server CPU ms per request | mean batch |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of runs.sort((a, b) => a.rate - b.rate || a.max_batch - b.max_batch)) {
    const v = r.tiers.normal;
    console.log(`| ${r.rate.toFixed(1)} | ${name(r)} | ${r.throughput_per_s.toFixed(1)} | ${v.ok} | ${v.rejected} | ${v.timeout} | ${v.lost} | ` +
      `${v.p50_ms.toFixed(1)} | ${v.p99_ms.toFixed(1)} | ${cpuPerRequest(r).toFixed(3)} | ${r.mean_batch.toFixed(2)} |`);
  }
}
