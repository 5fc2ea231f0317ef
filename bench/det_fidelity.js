// How closely a pruned text detector (ppocr-v4-det) follows the original in onnxruntime-node,
// without labelled boxes: the SQNR (dB) of its probability map against the original's, and the
// IoU of the text masks (map > 0.3, DB's binarisation threshold) of the two, over the pages of
// an input .npy or .npz (`x`), fed --batch pages at a time.
//   node bench/det_fidelity.js ORIGINAL.onnx PRUNED.onnx --data PAGES.npy|npz [--batch 8] [--threshold 0.3]
// Prints JSON {pages, sqnr_db, mask_iou, text_share}.
'use strict';
const npy = require('../tests/interop/npy');
const { firstOutputs } = require('./ort_batches');

async function main() {
  const [a, b, ...rest] = process.argv.slice(2);
  const opt = { batch: 8, threshold: 0.3 };
  for (let i = 0; i < rest.length; i += 2) opt[rest[i].slice(2)] = rest[i + 1];
  const data = opt.data.endsWith('.npz') ? npy.readNpz(opt.data).x : npy.readNpy(opt.data);
  const ref = (await firstOutputs(a, data, Number(opt.batch))).map(o => o.data);
  const got = (await firstOutputs(b, data, Number(opt.batch))).map(o => o.data);
  const t = Number(opt.threshold);
  let signal = 0, noise = 0, both = 0, either = 0, text = 0, total = 0;
  for (let k = 0; k < ref.length; k++) {
    if (ref[k].length !== got[k].length) throw new Error(`batch ${k}: ${got[k].length} values vs ${ref[k].length}`);
    for (let j = 0; j < ref[k].length; j++) {
      const x = ref[k][j], y = got[k][j];
      signal += x * x, noise += (x - y) * (x - y);
      both += x > t && y > t ? 1 : 0, either += x > t || y > t ? 1 : 0, text += x > t ? 1 : 0, total++;
    }
  }
  console.log(JSON.stringify({ pages: data.shape[0], sqnr_db: 10 * Math.log10(signal / Math.max(noise, 1e-30)),
                               mask_iou: either ? both / either : 1, text_share: text / total }));
}
main().catch(e => { console.error(e.message); process.exit(1); });
