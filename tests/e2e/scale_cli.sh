#!/usr/bin/env bash
# Issue 19 end to end: ember-rt's packed-weight cache (written on the first load, then used;
# outputs identical either way; a damaged cache is replaced, never trusted), quantize keeping
# external data, and models whose external data is missing or short (exit 2 naming the tensor
# and the file), and an output that does not fit (exit 2, nothing left behind).
source "$(dirname "$0")/lib.sh"
RT=${EMBER_BUILD_DIR:-$(dirname "$EMBER")}/ember-rt
[ -x "$RT" ] || { echo "SKIP: $RT is not built"; exit 77; }
MODEL=$ROOT/samples/kjv-gpt2-tiny.onnx
IDS=$ROOT/samples/kjv-lm-eval.npy

expect_exit 0 "external data" -- "$EMBER" opt "$MODEL" --external-data -o "$WORK/fp32.onnx"
expect_exit 0 "quantize int4" -- "$EMBER" quantize "$WORK/fp32.onnx" --weights int4 -o "$WORK/q4.onnx"
[ -f "$WORK/q4.onnx.data" ] && pass || fail "quantize did not keep the input's external data"
# Deterministic: the same command again (1 thread this time) writes the same bytes.
mkdir -p "$WORK/again"
expect_exit 0 "quantize int4 again, 1 thread" -- "$EMBER" quantize "$WORK/fp32.onnx" --weights int4 --threads 1 -o "$WORK/again/q4.onnx"
cmp -s "$WORK/q4.onnx" "$WORK/again/q4.onnx" && cmp -s "$WORK/q4.onnx.data" "$WORK/again/q4.onnx.data" && pass ||
  fail "quantize int4 wrote different bytes on the second run"

# One row of token ids as the input.
python3 - "$IDS" "$WORK/ids.npy" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
hl = struct.unpack('<H', b[8:10])[0]
header = b[10:10 + hl].decode()
shape = tuple(int(x) for x in header.split('(')[1].split(')')[0].split(',') if x.strip())
row = b[10 + hl:10 + hl + 8 * 32]
hdr = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 32), }"
hdr += ' ' * (64 - (10 + len(hdr) + 1) % 64) + '\n'
open(sys.argv[2], 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(hdr)) + hdr.encode() + row)
PY

run_rt() { "$RT" run "$WORK/q4.onnx" --input "input_ids=$WORK/ids.npy" --output-dir "$WORK/$1"; }
expect_exit 0 "ember-rt run, no cache yet" -- run_rt first
[ -f "$WORK/q4.onnx.ember-pack" ] && pass || fail "the first load wrote no pack cache"
expect_exit 0 "ember-rt bench with the cache" -- "$RT" bench "$WORK/q4.onnx" --input-shape input_ids=1x16 --runs 2
expect_stdout_contains "pack cache used"
expect_exit 0 "ember-rt run with the cache" -- run_rt cached
for f in "$WORK"/first/*.npy; do cmp -s "$f" "$WORK/cached/$(basename "$f")" && pass || fail "$(basename "$f") differs with the cache"; done

# A damaged cache (truncated) is ignored and rewritten; outputs stay the same.
head -c 1000 "$WORK/q4.onnx.ember-pack" > "$WORK/cut" && mv "$WORK/cut" "$WORK/q4.onnx.ember-pack"
expect_exit 0 "ember-rt run with a damaged cache" -- run_rt damaged
for f in "$WORK"/first/*.npy; do cmp -s "$f" "$WORK/damaged/$(basename "$f")" && pass || fail "$(basename "$f") differs after a damaged cache"; done
expect_exit 0 "ember-rt bench after the rewrite" -- "$RT" bench "$WORK/q4.onnx" --input-shape input_ids=1x16 --runs 2
expect_stdout_contains "pack cache used"
# Rewriting the model invalidates the cache (its identity changed).
touch "$WORK/q4.onnx.data"
expect_exit 0 "ember-rt bench after the model changed" -- "$RT" bench "$WORK/q4.onnx" --input-shape input_ids=1x16 --runs 2
expect_stdout_contains "pack cache not found"

# An output folder that does not exist: exit 2 naming it, before any work (the same for opt and prune).
expect_exit 2 "output in a missing folder" -- "$EMBER" quantize "$WORK/fp32.onnx" --weights int4 -o "$WORK/missing/q.onnx"
expect_stderr_contains "its folder '$WORK/missing'"
expect_exit 2 "opt output in a missing folder" -- "$EMBER" opt "$WORK/fp32.onnx" --passes dce -o "$WORK/missing/o.onnx"
expect_stderr_contains "its folder '$WORK/missing'"

# A full disk (here a file-size limit of 64 KB): exit 2, and neither the model, its data nor a
# temporary file is left behind.
mkdir -p "$WORK/full"
expect_exit 2 "output over the file-size limit" -- bash -c 'ulimit -f 64; exec "$0" quantize "$1" --weights int4 -o "$2"' \
  "$EMBER" "$WORK/fp32.onnx" "$WORK/full/q.onnx"
expect_stderr_contains "cannot write"
[ -z "$(ls -A "$WORK/full")" ] && pass || fail "a failed write left files behind: $(ls "$WORK/full")"

# External data short or missing: exit 2 naming the tensor and the file.
mkdir -p "$WORK/short"
cp "$WORK/fp32.onnx" "$WORK/short/"
head -c 100000 "$WORK/fp32.onnx.data" > "$WORK/short/fp32.onnx.data"
expect_exit 2 "short external data" -- "$EMBER" quantize "$WORK/short/fp32.onnx" --weights int4 -o "$WORK/x.onnx"
expect_stderr_contains "past the end of"
expect_stderr_contains "tensor '"
rm -f "$WORK/fp32.onnx.data"
expect_exit 2 "missing external data" -- "$RT" run "$WORK/fp32.onnx" --input "input_ids=$WORK/ids.npy"
expect_stderr_contains "fp32.onnx.data"
[ ! -e "$WORK/x.onnx" ] && pass || fail "a failed quantize left an output"
finish
