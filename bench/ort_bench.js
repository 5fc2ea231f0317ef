// Times onnxruntime-node on synthetic inputs, like `ember-rt bench`, for side-by-side ratios.
//   node bench/ort_bench.js MODEL --input-shape name=1x256 [...] --threads N --runs N
// Prints JSON: {median_ms, p90_ms, min_ms}.
'use strict';
const ort = require('onnxruntime-node');

function parse(argv) {
  const a = { shapes: {}, threads: 1, runs: 30, warmup: 3 };
  a.model = argv[0];
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--input-shape') { const [n, s] = argv[++i].split('='); a.shapes[n] = s.split('x').map(Number); }
    else if (argv[i] === '--threads') a.threads = Number(argv[++i]);
    else if (argv[i] === '--runs') a.runs = Number(argv[++i]);
  }
  return a;
}

// Same synthetic data as ember-rt: token ids 0..255 (a fixed LCG), masks of ones, floats in [-1, 1).
function synthetic(name, type, shape) {
  const n = shape.reduce((x, y) => x * y, 1);
  let state = 42;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648);
  if (type === 'tensor(int64)') {
    const d = new BigInt64Array(n);
    for (let i = 0; i < n; i++) d[i] = name.includes('mask') ? 1n : BigInt(next() % 256);
    return new ort.Tensor('int64', d, shape);
  }
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = (next() / 2147483648) * 2 - 1;
  return new ort.Tensor('float32', d, shape);
}

(async () => {
  const a = parse(process.argv.slice(2));
  const session = await ort.InferenceSession.create(a.model, {
    intraOpNumThreads: a.threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const feeds = {};
  const meta = session.inputMetadata || [];
  session.inputNames.forEach((name, i) => {
    const type = meta[i] && meta[i].type ? `tensor(${meta[i].type})` : (name.includes('ids') || name.includes('mask') ? 'tensor(int64)' : 'tensor(float)');
    feeds[name] = synthetic(name, type.replace('tensor(float32)', 'tensor(float)'), a.shapes[name]);
  });
  const ms = [];
  for (let r = 0; r < a.warmup + a.runs; r++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    const t = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r >= a.warmup) ms.push(t);
  }
  ms.sort((x, y) => x - y);
  console.log(JSON.stringify({ median_ms: ms[ms.length >> 1], p90_ms: ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.9))], min_ms: ms[0] }));
})().catch(e => { console.error(e.message); process.exit(1); });
