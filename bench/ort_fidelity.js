// Label-free fidelity measured by onnxruntime-node, to cross-check the figures of
// `ember compress` without labels (calibration/fidelity.h has the definitions):
//   node bench/ort_fidelity.js FP32.onnx CANDIDATE.onnx --data SET.npy|SET.npz --last N [--metric kl|top1|sqnr|cosine|expected-accuracy]
// runs both models on the last N rows of the set one row at a time and prints JSON
// {metric, value, rows}; with several float outputs the worst output's value.
'use strict';
const ort = require('onnxruntime-node');
const npy = require('../tests/interop/npy');

function parse(argv) {
  const a = { fp32: argv[0], candidate: argv[1], metric: 'kl', last: 32 };
  for (let i = 2; i < argv.length; i++) {
    if (argv[i] === '--data') a.data = argv[++i];
    else if (argv[i] === '--last') a.last = Number(argv[++i]);
    else if (argv[i] === '--metric') a.metric = argv[++i];
  }
  return a;
}

function logSoftmax(z) {
  let peak = -Infinity;
  for (const v of z) peak = Math.max(peak, v);
  let sum = 0;
  for (const v of z) sum += Math.exp(v - peak);
  const lse = Math.log(sum) + peak;
  return Array.from(z, v => v - lse);
}

function argmax(z) {
  let best = 0;
  for (let i = 1; i < z.length; i++) if (z[i] > z[best]) best = i;
  return best;
}

// Accumulates one output: sums of row scores (kl, top1, cosine) or energies (sqnr).
function accumulate(acc, metric, r, c, width) {
  if (metric === 'sqnr') {
    for (let i = 0; i < r.length; i++) { acc.signal += r[i] * r[i]; acc.noise += (r[i] - c[i]) ** 2; }
    return;
  }
  for (let s = 0; s + width <= r.length; s += width) {
    const a = r.subarray(s, s + width), b = c.subarray(s, s + width);
    if (metric === 'kl') {
      const lp = logSoftmax(a), lq = logSoftmax(b);
      let kl = 0;
      for (let i = 0; i < width; i++) kl += Math.exp(lp[i]) * (lp[i] - lq[i]);
      acc.sum += Math.max(kl, 0);
    } else if (metric === 'expected-accuracy') {  // p(argmax FP32) - p(argmax candidate), p = softmax(FP32)
      const lp = logSoftmax(a);
      acc.sum += Math.exp(lp[argmax(a)]) - Math.exp(lp[argmax(b)]);
    } else if (metric === 'top1') {
      acc.sum += argmax(a) === argmax(b) ? 1 : 0;
    } else {
      let dot = 0, aa = 0, bb = 0;
      for (let i = 0; i < width; i++) { dot += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
      acc.sum += aa === 0 && bb === 0 ? 1 : aa === 0 || bb === 0 ? 0 : dot / Math.sqrt(aa * bb);
    }
    acc.rows++;
  }
}

function value(acc, metric) {
  if (metric !== 'sqnr') return acc.sum / acc.rows;
  if (acc.noise === 0) return 200;
  return Math.max(-200, Math.min(200, 10 * Math.log10(acc.signal / acc.noise)));
}

(async () => {
  const a = parse(process.argv.slice(2));
  const opts = { intraOpNumThreads: 2 };
  const ref = await ort.InferenceSession.create(a.fp32, opts), cand = await ort.InferenceSession.create(a.candidate, opts);
  const arrays = a.data.endsWith('.npz') ? npy.readNpz(a.data) : { [ref.inputNames[0]]: npy.readNpy(a.data) };
  const total = arrays[ref.inputNames[0]].shape[0], first = total - a.last;
  const accs = {};
  for (let row = first; row < total; row++) {
    const feeds = {};
    for (const name of ref.inputNames) {
      const v = npy.sliceRows(arrays[name], row, 1);
      feeds[name] = new ort.Tensor(v.type, v.data, v.shape);
    }
    const [ro, co] = [await ref.run(feeds), await cand.run(feeds)];
    for (const name of ref.outputNames) {
      if (!(ro[name].data instanceof Float32Array)) continue;
      const width = ro[name].dims.length ? ro[name].dims[ro[name].dims.length - 1] : 1;
      accs[name] = accs[name] || { sum: 0, rows: 0, signal: 0, noise: 0 };
      accumulate(accs[name], a.metric, ro[name].data, co[name].data, width);
    }
  }
  const values = Object.values(accs).map(acc => value(acc, a.metric));
  const worst = a.metric === 'kl' || a.metric === 'expected-accuracy' ? Math.max(...values) : Math.min(...values);
  console.log(JSON.stringify({ metric: a.metric, value: worst, rows: total - first }));
})().catch(e => { console.error('ort_fidelity: ' + e.message); process.exit(1); });
