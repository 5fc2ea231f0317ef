// A quantized model whose weights sit inside Loop / Scan / If bodies, against its FP32 model,
// in onnxruntime-node and in Ember (issue 17):
//   node body_quant_ort.js FP32.onnx QUANT.onnx DATA.npz --ember BIN [--min-sqnr DB] [--tol T]
// Feeds every array of DATA.npz (each named after a model input) to both models in both
// runtimes; checks Ember's quantized outputs (`ember run --reference`: dequantize, then float)
// against onnxruntime's without graph optimizations (the same semantics) (max |ember - ort| / max |ort| <= tol, default 1e-4) and the SQNR of the quantized outputs against onnxruntime's FP32 outputs
// (>= min-sqnr in onnxruntime and in Ember's integer kernels, default 10 dB). Prints one JSON line with the figures.
// Exits 77 (skip) when onnxruntime-node is not installed, 1 on a failed check.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const npy = require('./npy');

const support = require('./script_support');
const { parseArgs } = support;
const ort = support.requireOrtOrSkip();

async function runOrt(model, feeds, optimization) {
  const session = await ort.InferenceSession.create(model, optimization ? { graphOptimizationLevel: optimization } : {});
  const inputs = {};
  for (const [name, a] of Object.entries(feeds)) inputs[name] = new ort.Tensor(a.type, a.data, a.shape);
  const out = await session.run(inputs);
  return session.outputNames.map(n => Float32Array.from(out[n].data, Number));
}

function runEmber(bin, model, feeds, dir, reference) {
  const args = ['run', model, '--output-dir', dir, ...(reference ? ['--reference'] : [])];
  for (const [name, a] of Object.entries(feeds)) {
    const file = path.join(dir, `in_${name}.npy`);
    npy.writeNpy(file, a.type, a.shape, a.data);
    args.push('--input', `${name}=${file}`);
  }
  execFileSync(bin, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const json = JSON.parse(execFileSync(bin, ['inspect', model, '--json']).toString());
  return json.outputs.map(o => Float32Array.from(npy.readNpy(path.join(dir, `${o.name}.npy`)).data, Number));
}

function sqnr(ref, got) {
  let signal = 0, noise = 0;
  for (let i = 0; i < ref.length; i++) { signal += ref[i] * ref[i]; noise += (ref[i] - got[i]) ** 2; }
  return noise === 0 ? Infinity : 10 * Math.log10(signal / noise);
}

function relDiff(ref, got) {
  let diff = 0, scale = 0;
  for (let i = 0; i < ref.length; i++) { diff = Math.max(diff, Math.abs(ref[i] - got[i])); scale = Math.max(scale, Math.abs(ref[i])); }
  return scale > 0 ? diff / scale : diff;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const [fp32, quant, data] = args.positional;
  const tol = Number(args.tol || 1e-4), minSqnr = Number(args['min-sqnr'] || 10);
  const feeds = npy.readNpz(data);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ember-body-ort-'));
  try {
    const ref = await runOrt(fp32, feeds);
    const ortQ = await runOrt(quant, feeds);  // onnxruntime's default session (its fusions approximate)
    const ortExact = await runOrt(quant, feeds, 'disabled');  // the ONNX semantics
    const emberRef = runEmber(args.ember, quant, feeds, dir, true);  // dequantize then float, as ONNX defines
    const emberQ = runEmber(args.ember, quant, feeds, dir, false);   // Ember's integer kernels
    const result = { model: path.basename(quant), outputs: [] };
    let ok = true;
    for (let k = 0; k < ref.length; k++) {
      const r = { ember_vs_ort: relDiff(ortExact[k], emberRef[k]), sqnr_ort: sqnr(ref[k], ortQ[k]), sqnr_ember: sqnr(ref[k], emberQ[k]) };
      ok = ok && r.ember_vs_ort <= tol && r.sqnr_ort >= minSqnr && r.sqnr_ember >= minSqnr;
      result.outputs.push(r);
    }
    console.log(JSON.stringify(result));
    if (!ok) { console.error(`FAIL: ${quant}: tolerance ${tol}, SQNR floor ${minSqnr} dB`); process.exit(1); }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(e => { console.error(e.stack || String(e)); process.exit(1); });
