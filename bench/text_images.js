// Synthetic text-line images for the PaddleOCR classifier (ppocr-cls, NCHW [N, 3, 48, 192],
// normalised as PaddleOCR does): dark strokes of varying thickness, spacing and slant on a light
// background, half of them upside down (the classifier's two classes are 0 and 180 degrees).
// A fixed xorshift generator: the same files on every machine.
//   node bench/text_images.js OUT.npy|OUT.npz ROWS SEED
// An .npz holds `x` and `labels` (int64: 0 upright, 1 upside down), for `ember eval --task classify`.
'use strict';
const path = require('path');
const npy = require(path.join(__dirname, '..', 'tests', 'interop', 'npy'));

const [out, rowsText, seedText] = process.argv.slice(2);
const rows = Number(rowsText || 64), H = 48, W = 192, C = 3;
let s = (Number(seedText || 1) * 2654435761) >>> 0 || 1;
const rand = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
const data = new Float32Array(rows * C * H * W);
for (let r = 0; r < rows; r++) {
  const ink = new Float32Array(H * W);
  const top = 8 + Math.floor(rand() * 10), height = 14 + Math.floor(rand() * 14);
  const pitch = 6 + Math.floor(rand() * 8), width = 1 + Math.floor(rand() * 3), slant = rand() * 0.6 - 0.3;
  const start = Math.floor(rand() * 30), end = W - Math.floor(rand() * 30);
  for (let x0 = start; x0 < end; x0 += pitch + Math.floor(rand() * 4)) {
    const glyphTop = top + Math.floor(rand() * 4), glyphH = Math.floor(height * (0.5 + 0.5 * rand()));
    for (let y = glyphTop; y < Math.min(H, glyphTop + glyphH); y++) {
      const x = Math.round(x0 + slant * (y - glyphTop));
      for (let dx = 0; dx < width; dx++) if (x + dx >= 0 && x + dx < W) ink[y * W + x + dx] = 1;
    }
    if (rand() < 0.5) {  // a horizontal bar: the glyphs differ top and bottom
      const y = glyphTop + (rand() < 0.7 ? 0 : glyphH - 1);
      for (let x = x0; x < Math.min(W, x0 + pitch - 1); x++) if (y < H) ink[y * W + x] = 1;
    }
  }
  const flip = r % 2 === 1;
  const paper = 0.85 + 0.15 * rand(), dark = 0.05 + 0.2 * rand();
  for (let c = 0; c < C; c++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const src = flip ? (H - 1 - y) * W + (W - 1 - x) : y * W + x;
        const v = (ink[src] ? dark : paper) + 0.03 * (rand() - 0.5);
        data[((r * C + c) * H + y) * W + x] = (v - mean[c]) / std[c];
      }
}
if (out.endsWith('.npz')) {
  const AdmZip = require('adm-zip');
  const zip = new AdmZip();
  zip.addFile('x.npy', npy.npyBytes('float32', [rows, C, H, W], data));
  const labels = BigInt64Array.from({ length: rows }, (_, r) => BigInt(r % 2));
  zip.addFile('labels.npy', npy.npyBytes('int64', [rows], labels));
  zip.writeZip(out);
} else {
  npy.writeNpy(out, 'float32', [rows, C, H, W], data);
}
console.log(`wrote ${out}: ${rows} images [${C}, ${H}, ${W}]`);
