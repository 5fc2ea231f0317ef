// Interop checks against onnxruntime-node, the peer runtime.
//   same-outputs A.onnx B.onnx --task lm|classify --data FILE [--rows N]
//       A and B give bit-identical outputs in onnxruntime (e.g. a model and Ember's re-save).
//   match-ember MODEL --ember BIN --task lm|classify --data FILE [--rows N] [--tol 1e-4] [--ember-flag F]
//               [--ort-optimization disabled|basic|extended|all]
//       Ember's interpreter (`ember run`) matches onnxruntime: max |ember - ort| / max |ort| <= tol.
// Exits 77 (skip) when onnxruntime-node is not installed.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const npy = require('./npy');

const support = require('./script_support');
const { parseArgs } = support;
const ort = support.requireOrtOrSkip();

// Batches of feeds following the evaluation protocols: lm feeds row[:seq] one row at a time.
function batches(task, dataPath, rows) {
  const out = [];
  if (task === 'lm') {
    const data = npy.readNpy(dataPath);
    const seq = data.shape[1] - 1;
    for (let r = 0; r < Math.min(rows, data.shape[0]); r++) {
      const ids = new BigInt64Array(data.data.subarray(r * data.shape[1], r * data.shape[1] + seq));
      out.push({ input_ids: { type: 'int64', shape: [1, seq], data: ids } });
    }
  } else {
    const arrays = npy.readNpz(dataPath);
    const total = arrays.labels.shape[0];
    const batch = 32;
    for (let s = 0; s < Math.min(rows, total); s += batch) {
      const n = Math.min(batch, Math.min(rows, total) - s);
      const feeds = {};
      for (const [k, v] of Object.entries(arrays)) if (k !== 'labels') feeds[k] = npy.sliceRows(v, s, n);
      out.push(feeds);
    }
  }
  return out;
}

async function runOrt(session, feeds) {
  const ortFeeds = {};
  for (const name of session.inputNames) {
    const f = feeds[name];
    if (!f) throw new Error(`no data for model input ${name}`);
    ortFeeds[name] = new ort.Tensor(f.type, f.data, f.shape);
  }
  const results = await session.run(ortFeeds);
  return session.outputNames.map(n => results[n]);
}

async function sameOutputs(args) {
  const [a, b] = args.positional;
  const opts = { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' };
  const sa = await ort.InferenceSession.create(a, opts);
  const sb = await ort.InferenceSession.create(b, opts);
  let compared = 0;
  for (const feeds of batches(args.task, args.data, Number(args.rows || 4))) {
    const [oa, ob] = [await runOrt(sa, feeds), await runOrt(sb, feeds)];
    for (let i = 0; i < oa.length; i++) {
      const x = Buffer.from(oa[i].data.buffer, oa[i].data.byteOffset, oa[i].data.byteLength);
      const y = Buffer.from(ob[i].data.buffer, ob[i].data.byteOffset, ob[i].data.byteLength);
      if (!x.equals(y)) { console.log(`FAIL: output ${i} differs between ${a} and ${b}`); process.exit(1); }
      compared += oa[i].data.length;
    }
  }
  console.log(`ok: ${compared} output values bit-identical between ${path.basename(a)} and ${path.basename(b)}`);
}

async function matchEmber(args) {
  const model = args.positional[0];
  const tol = Number(args.tol || 1e-4);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 2, graphOptimizationLevel: args['ort-optimization'] || 'all' });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ember-interop-'));
  let worst = 0, batchesRun = 0;
  try {
    for (const feeds of batches(args.task, args.data, Number(args.rows || 4))) {
      const cli = ['run', model, '--output-dir', path.join(tmp, 'out')];
      if (args['ember-flag']) cli.push(args['ember-flag']);
      for (const name of session.inputNames) {
        const file = path.join(tmp, `${name}.npy`);
        npy.writeNpy(file, feeds[name].type, feeds[name].shape, feeds[name].data);
        cli.push('--input', `${name}=${file}`);
      }
      execFileSync(args.ember, cli, { stdio: ['ignore', 'ignore', 'inherit'] });
      const ref = await runOrt(session, feeds);
      session.outputNames.forEach((name, i) => {
        const got = npy.readNpy(path.join(tmp, 'out', name.replace(/[/:\\]/g, '_') + '.npy'));
        if (got.data.length !== ref[i].data.length) throw new Error(`output ${name}: ${got.data.length} values vs ${ref[i].data.length}`);
        let maxDiff = 0, maxRef = 0;
        for (let j = 0; j < got.data.length; j++) {
          maxDiff = Math.max(maxDiff, Math.abs(Number(got.data[j]) - Number(ref[i].data[j])));
          maxRef = Math.max(maxRef, Math.abs(Number(ref[i].data[j])));
        }
        worst = Math.max(worst, maxRef > 0 ? maxDiff / maxRef : maxDiff);
      });
      batchesRun++;
    }
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
  const verdict = worst <= tol ? 'ok' : 'FAIL';
  const mode = (args['ember-flag'] ? ` (ember ${args['ember-flag']})` : '') +
    (args['ort-optimization'] ? ` (onnxruntime optimization ${args['ort-optimization']})` : '');
  console.log(`${verdict}: ${path.basename(model)}${mode} max relative difference ${worst.toExponential(3)} over ${batchesRun} batches (tolerance ${tol})`);
  if (worst > tol) process.exit(1);
}

const args = parseArgs(process.argv.slice(3));
const command = process.argv[2];
({ 'same-outputs': sameOutputs, 'match-ember': matchEmber })[command](args).catch(e => {
  console.log('FAIL: ' + e.message); process.exit(1);
});
