// Synthetic text pages for PaddleOCR's text detector (ppocr-v4-det, NCHW [N, 3, 96, 192]; its
// FPN needs sides that are multiples of 32): each page is two text lines of bench/text_images.js
// stacked, so the same fixed generator gives the same files on every machine.
//   node bench/text_pages.js OUT.npy|OUT.npz ROWS SEED
// An .npz holds `x` and `labels` (int64 zeros: the detector has no classes), for the tools that
// read a classify-style set (`ember prune --calib`, tests/interop/ort_check.js match-ember).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const npy = require(path.join(__dirname, '..', 'tests', 'interop', 'npy'));

const [out, rowsText, seedText] = process.argv.slice(2);
const rows = Number(rowsText || 16), seed = Number(seedText || 1);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ember-pages-'));
try {
  const lines = path.join(tmp, 'lines.npy');
  execFileSync(process.execPath, [path.join(__dirname, 'text_images.js'), lines, String(2 * rows), String(seed)], { stdio: 'ignore' });
  const l = npy.readNpy(lines);
  const [, C, H, W] = l.shape;
  const page = new Float32Array(rows * C * 2 * H * W);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < C; c++)
      for (let half = 0; half < 2; half++) {
        const src = l.data.subarray(((2 * r + half) * C + c) * H * W, ((2 * r + half) * C + c + 1) * H * W);
        page.set(src, ((r * C + c) * 2 * H + half * H) * W);
      }
  const shape = [rows, C, 2 * H, W];
  if (out.endsWith('.npz')) {
    npy.writeNpz(out, { x: { type: 'float32', shape, data: page }, labels: { type: 'int64', shape: [rows], data: new BigInt64Array(rows) } });
  } else {
    npy.writeNpy(out, 'float32', shape, page);
  }
  console.log(`wrote ${out}: ${rows} pages [${shape.join(', ')}]`);
} finally { fs.rmSync(tmp, { recursive: true, force: true }); }
