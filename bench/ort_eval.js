// The evaluation protocols of ../shared/models/README.md, run by onnxruntime-node, to
// cross-check `ember eval` on quantized models:
//   node bench/ort_eval.js MODEL --task lm --data kjv-lm-eval.npy [--limit N]
//       feed row[:-1] as input_ids [1, seq]; mean NLL of row[1:] in bits per byte
//   node bench/ort_eval.js MODEL --task classify --data FILE.npz [--limit N]
//       accuracy of argmax(logits) against the file's labels
// Prints JSON {task, value, rows}.
'use strict';
const ort = require('onnxruntime-node');
const npy = require('../tests/interop/npy');

function parse(argv) {
  const a = { model: argv[0], limit: Infinity };
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--task') a.task = argv[++i];
    else if (argv[i] === '--data') a.data = argv[++i];
    else if (argv[i] === '--limit') a.limit = Number(argv[++i]);
  }
  return a;
}

async function lm(session, path, limit) {
  const data = npy.readNpy(path);
  const [total, width] = data.shape;
  const seq = width - 1, rows = Math.min(total, limit);
  let nll = 0, count = 0;
  for (let r = 0; r < rows; r++) {
    const row = data.data.subarray(r * width, (r + 1) * width);
    const ids = new ort.Tensor('int64', BigInt64Array.from(row.subarray(0, seq)), [1, seq]);
    const out = await session.run({ [session.inputNames[0]]: ids });
    const logits = out[session.outputNames[0]];
    const vocab = logits.dims[logits.dims.length - 1];
    for (let t = 0; t < seq; t++) {
      const z = logits.data.subarray(t * vocab, (t + 1) * vocab);
      let peak = -Infinity;
      for (const v of z) peak = Math.max(peak, v);
      let sum = 0;
      for (const v of z) sum += Math.exp(v - peak);
      nll += Math.log(sum) + peak - z[Number(row[t + 1])];
      count++;
    }
  }
  return { value: nll / count / Math.LN2, rows };
}

async function classify(session, path, limit) {
  const arrays = npy.readNpz(path);
  const rows = Math.min(arrays.labels.shape[0], limit);
  let correct = 0;
  for (let s = 0; s < rows; s += 64) {
    const n = Math.min(64, rows - s);
    const feeds = {};
    for (const name of session.inputNames) {
      const v = npy.sliceRows(arrays[name], s, n);
      feeds[name] = new ort.Tensor(v.type, v.data, v.shape);
    }
    const logits = (await session.run(feeds))[session.outputNames[0]];
    const classes = logits.dims[1];
    for (let i = 0; i < n; i++) {
      const z = logits.data.subarray(i * classes, (i + 1) * classes);
      let best = 0;
      for (let c = 1; c < classes; c++) if (z[c] > z[best]) best = c;
      if (best === Number(arrays.labels.data[s + i])) correct++;
    }
  }
  return { value: correct / rows, rows };
}

(async () => {
  const a = parse(process.argv.slice(2));
  const session = await ort.InferenceSession.create(a.model, { intraOpNumThreads: 2 });
  const result = a.task === 'lm' ? await lm(session, a.data, a.limit) : await classify(session, a.data, a.limit);
  console.log(JSON.stringify({ task: a.task, ...result }));
})().catch(e => { console.error('ort_eval: ' + e.message); process.exit(1); });
