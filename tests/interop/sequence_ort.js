// onnxruntime-node against ember-rt on a sequence model (tests/e2e/sequence_rt.sh writes the
// files into WORK): built.onnx makes the sequence [a, b, c] inside from tensor inputs and
// computes what seq.onnx computes from the sequence input s; onnxruntime's y and n must equal
// ember-rt's (WORK/rt/y.npy, n.npy: concatenation and a count, exact). Then seq.onnx itself is
// given the sequence: onnxruntime-node's JavaScript API takes only tensors as feeds, so this
// is expected to be refused, and the script says so (if a future version accepts it, the
// outputs are compared as well).
'use strict';
const path = require('path');
const ort = require('onnxruntime-node');
const npy = require('./npy');

const work = process.argv[2];
const load = name => npy.readNpy(path.join(work, name));
const tensor = a => new ort.Tensor(a.type, a.data, a.shape);

function same(what, ortTensor, emberArray) {
  const a = Array.from(ortTensor.data, Number), b = Array.from(emberArray.data, Number);
  const ok = a.length === b.length && a.every((v, i) => v === b[i]) &&
             JSON.stringify(ortTensor.dims.map(Number)) === JSON.stringify(emberArray.shape);
  console.log(`${what}: ${ok ? 'identical' : 'DIFFERENT'} (onnxruntime ${JSON.stringify(ortTensor.dims)}, ember-rt ${JSON.stringify(emberArray.shape)})`);
  return ok;
}

(async () => {
  const feeds = {};
  for (const n of ['a', 'b', 'c', 'x']) feeds[n] = tensor(load(n + '.npy'));
  const built = await ort.InferenceSession.create(path.join(work, 'built.onnx'));
  const out = await built.run(feeds, ['y', 'n']);
  let ok = same('y (built.onnx in onnxruntime vs seq.onnx in ember-rt)', out.y, load('rt/y.npy'));
  ok = same('n', out.n, load('rt/n.npy')) && ok;

  const direct = await ort.InferenceSession.create(path.join(work, 'seq.onnx'));
  try {
    const seqOut = await direct.run({ s: [feeds.a, feeds.b, feeds.c], x: feeds.x }, ['y', 'n']);
    ok = same('y (seq.onnx fed a sequence in onnxruntime)', seqOut.y, load('rt/y.npy')) && ok;
  } catch (e) {
    console.log(`note: onnxruntime-node ${require('onnxruntime-node/package.json').version} does not take a sequence ` +
                `feed (${String(e.message).split('\n')[0]}); compared through built.onnx`);
  }
  process.exit(ok ? 0 : 1);
})().catch(e => { console.log('error: ' + e.message); process.exit(1); });
