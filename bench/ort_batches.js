// The first output of an onnxruntime-node session over the rows of an input tensor, fed
// `batch` rows at a time on one thread: one {data, dims} per batch. Shared by the fidelity
// scripts that compare a compressed model with its original without labels.
'use strict';
const ort = require('onnxruntime-node');

async function firstOutputs(file, data, batch) {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  const rowSize = data.data.length / data.shape[0], out = [];
  for (let r = 0; r < data.shape[0]; r += batch) {
    const n = Math.min(batch, data.shape[0] - r);
    const x = new ort.Tensor('float32', data.data.slice(r * rowSize, (r + n) * rowSize), [n, ...data.shape.slice(1)]);
    const res = await session.run({ [session.inputNames[0]]: x });
    const y = res[session.outputNames[0]];
    out.push({ data: Float32Array.from(y.data), dims: y.dims });
  }
  return out;
}

module.exports = { firstOutputs };
