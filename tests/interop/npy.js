// Minimal .npy / .npz reading and writing for the interop scripts (C order, little endian).
'use strict';
const fs = require('fs');

const DESCR = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array], '<i8': ['int64', BigInt64Array],
  '<i4': ['int32', Int32Array], '|i1': ['int8', Int8Array], '|u1': ['uint8', Uint8Array], '|b1': ['bool', Uint8Array],
};

function parseNpy(buf) {
  if (buf.readUInt32BE(0) !== 0x934e554d) throw new Error('not an .npy file');
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.slice(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map(s => s.trim()).filter(s => s).map(Number);
  const [type, Ctor] = DESCR[descr] || (() => { throw new Error('unsupported dtype ' + descr); })();
  const body = buf.slice(start + headerLen);
  const copy = new Uint8Array(body.length);
  copy.set(body);
  return { type, shape, data: new Ctor(copy.buffer, 0, body.length / Ctor.BYTES_PER_ELEMENT) };
}

function npyBytes(type, shape, data) {
  const descr = Object.keys(DESCR).find(k => DESCR[k][0] === type);
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10);
  head.writeUInt32BE(0x934e554d, 0); head[4] = 0x50; head[5] = 0x59; head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

function readNpy(path) { return parseNpy(fs.readFileSync(path)); }
function writeNpy(path, type, shape, data) { fs.writeFileSync(path, npyBytes(type, shape, data)); }

function readNpz(path) {
  const AdmZip = require('adm-zip');
  const zip = new AdmZip(path);
  const out = {};
  for (const e of zip.getEntries()) out[e.entryName.replace(/\.npy$/, '')] = parseNpy(e.getData());
  return out;
}

// Arrays by name into one .npz (uncompressed entries NAME.npy), as numpy.savez writes.
function writeNpz(path, arrays) {
  const AdmZip = require('adm-zip');
  const zip = new AdmZip();
  for (const [name, a] of Object.entries(arrays)) zip.addFile(`${name}.npy`, npyBytes(a.type, a.shape, a.data));
  zip.writeZip(path);
}

// Rows [start, start+n) of an array as a new array.
function sliceRows(arr, start, n) {
  const rowSize = arr.shape.slice(1).reduce((a, b) => a * b, 1);
  const Ctor = arr.data.constructor;
  const data = new Ctor(arr.data.subarray(start * rowSize, (start + n) * rowSize));
  return { type: arr.type, shape: [n, ...arr.shape.slice(1)], data };
}

module.exports = { readNpy, writeNpy, readNpz, writeNpz, parseNpy, npyBytes, sliceRows };
