// Runs token rows alone and as one batch in onnxruntime-node and compares each row.
//   batch_rows.js MODEL [--rows 3] [--seq 8] [--tol 1e-6] [--expect-refusal]
// Exit 0 when every row of the batch equals its batch-1 run (max |batched - alone| / max |alone|
// <= tol); with --expect-refusal, exit 0 when onnxruntime refuses the batch (a model whose
// graph fixes its batch to 1). Exits 77 (skip) when onnxruntime-node is not installed.
'use strict';
const support = require('./script_support');
const ort = support.requireOrtOrSkip();
const args = { rows: '3', seq: '8', tol: '1e-6' };
const argv = process.argv.slice(2);
for (let i = 1; i < argv.length; i++) args[argv[i].slice(2)] = argv[i].startsWith('--expect') ? true : argv[++i];
const rows = Number(args.rows), seq = Number(args.seq), tol = Number(args.tol);

(async () => {
  const session = await ort.InferenceSession.create(argv[0], { intraOpNumThreads: 1, logSeverityLevel: 3 });
  const ids = Array.from({ length: rows * seq }, (_, i) => BigInt((i * 37 + 11) % 256));
  const feed = (from, n) => ({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.slice(from * seq, (from + n) * seq)), [n, seq]) });
  const out = session.outputNames[0];
  let together;
  try {
    together = (await session.run(feed(0, rows)))[out];
  } catch (e) {
    console.log(`onnxruntime refuses a batch of ${rows}: ${e.message.split('\n')[0].slice(0, 200)}`);
    process.exit(args['expect-refusal'] ? 0 : 1);
  }
  const n = together.data.length / rows;
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    const alone = (await session.run(feed(r, 1)))[out].data;
    let diff = 0, scale = 0;
    for (let k = 0; k < n; k++) {
      diff = Math.max(diff, Math.abs(together.data[r * n + k] - alone[k]));
      scale = Math.max(scale, Math.abs(alone[k]));
    }
    worst = Math.max(worst, diff / scale);
  }
  console.log(`batch of ${rows} x ${seq}: dims [${together.dims}], max |batched - alone| / max |alone| over rows = ${worst}`);
  if (args['expect-refusal']) process.exit(1);
  process.exit(worst <= tol ? 0 : 1);
})().catch((e) => { console.log(e.message); process.exit(1); });
