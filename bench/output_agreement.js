// How closely a compressed model follows its original in onnxruntime-node, for models without
// labelled data: argmax agreement of the first output's last axis and its SQNR (dB) against the
// original's, over the rows of an input .npy (fed in batches of --batch rows).
//   node bench/output_agreement.js ORIGINAL.onnx COMPRESSED.onnx --data INPUT.npy [--batch 16]
// Prints JSON {rows, agreement, sqnr_db}.
'use strict';
const npy = require('../tests/interop/npy');
const { firstOutputs } = require('./ort_batches');

async function main() {
  const [a, b, ...rest] = process.argv.slice(2);
  const opt = { batch: 16 };
  for (let i = 0; i < rest.length; i += 2) opt[rest[i].slice(2)] = rest[i + 1];
  const data = npy.readNpy(opt.data);
  const ref = await firstOutputs(a, data, Number(opt.batch)), got = await firstOutputs(b, data, Number(opt.batch));
  let agree = 0, rows = 0, signal = 0, noise = 0;
  for (let k = 0; k < ref.length; k++) {
    const classes = ref[k].dims[ref[k].dims.length - 1], n = ref[k].data.length / classes;
    for (let r = 0; r < n; r++) {
      let ia = 0, ib = 0;
      for (let c = 0; c < classes; c++) {
        const x = ref[k].data[r * classes + c], y = got[k].data[r * classes + c];
        if (x > ref[k].data[r * classes + ia]) ia = c;
        if (y > got[k].data[r * classes + ib]) ib = c;
        signal += x * x, noise += (x - y) * (x - y);
      }
      agree += ia === ib ? 1 : 0, rows++;
    }
  }
  console.log(JSON.stringify({ rows, agreement: agree / rows, sqnr_db: 10 * Math.log10(signal / Math.max(noise, 1e-30)) }));
}
main().catch(e => { console.error(e.message); process.exit(1); });
