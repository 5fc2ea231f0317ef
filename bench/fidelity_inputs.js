// Calibration sets for the label-free budget figures on models that ship without data
// (bench/fidelity.sh): deterministic synthetic inputs, one .npy per model (rows along dim 0).
//   node bench/fidelity_inputs.js text-images OUT.npy ROWS   float32 [ROWS, 3, 96, 128]: dark
//       text-like strokes at seeded places on white, normalised as PaddleOCR does
//   node bench/fidelity_inputs.js uniform OUT.npy ROWS D1xD2x... LO HI   float32 [ROWS, D1, D2, ...]
'use strict';
const npy = require('../tests/interop/npy');

function xorshift(seed) {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

// Lines of "glyphs" (short vertical, horizontal and diagonal strokes) whose count, place and
// spacing vary per row, so the detector's text map differs from row to row.
function textImages(rows) {
  const [c, h, w] = [3, 96, 128], mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
  const out = new Float32Array(rows * c * h * w);
  for (let r = 0; r < rows; r++) {
    const rnd = xorshift(r + 1), ink = new Uint8Array(h * w);
    const lines = 1 + Math.floor(rnd() * 3);
    for (let l = 0; l < lines; l++) {
      const top = Math.floor(rnd() * (h - 16)), height = 8 + Math.floor(rnd() * 8);
      const left = Math.floor(rnd() * w / 3), right = left + Math.floor(w / 3 + rnd() * (w - left - w / 3));
      for (let x = left; x < right; x += 3 + Math.floor(rnd() * 4)) {
        const kind = Math.floor(rnd() * 3);
        for (let k = 0; k < height; k++) {
          const y = top + k, xx = kind === 2 ? x + Math.floor(k / 3) : x;
          if (kind === 1 && k % height !== 0 && k !== height - 1) continue;
          for (let t = 0; t < 2 && xx + t < w; t++) ink[y * w + xx + t] = 1;
        }
      }
    }
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < h * w; i++) {
        const v = (ink[i] ? 0.1 : 0.95) + (rnd() - 0.5) * 0.04;
        out[(r * c + ch) * h * w + i] = (v - mean[ch]) / std[ch];
      }
  }
  return { shape: [rows, c, h, w], data: out };
}

function uniform(rows, dims, lo, hi) {
  const n = rows * dims.reduce((a, b) => a * b, 1), rnd = xorshift(7), out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rnd();
  return { shape: [rows, ...dims], data: out };
}

const [kind, path, rowsText, dimsText, lo, hi] = process.argv.slice(2);
const rows = Number(rowsText);
const set = kind === 'text-images' ? textImages(rows) : uniform(rows, dimsText.split('x').map(Number), Number(lo), Number(hi));
npy.writeNpy(path, 'float32', set.shape, set.data);
console.log(`wrote ${path}: float32 [${set.shape.join(', ')}]`);
