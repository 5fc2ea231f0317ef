#!/usr/bin/env bash
# Hostile inputs (issue 20): every case is built here (ONNX models from protobuf text with
# protoc, .npy/.npz with python3's standard library) and must end in exit 2 with a message
# naming the problem, quickly (FIFOs and devices never block), with nothing left behind: no
# temporary file, no empty output folder, and non-regular output targets untouched.
source "$(dirname "$0")/lib.sh"
S=$ROOT/samples
for tool in protoc python3 timeout; do
  command -v $tool >/dev/null || { echo "SKIP: $tool is not installed (scripts/install-deps.sh)"; exit 77; }
done
PROTO=/usr/include/onnx/onnx.proto
[ -f $PROTO ] || { echo "SKIP: $PROTO is absent (libonnx-dev)"; exit 77; }
cases=0
run() { cases=$((cases + 1)); expect_exit "$@"; }  # counts the cases for RELIABILITY.md
# Every ember call has a deadline: a hang is a failure, not a stuck test.
E() { timeout 60 "$EMBER" "$@"; }

# onnx FILE: encodes the ModelProto text on stdin.
onnx() { protoc --encode=onnx.ModelProto -I/usr/include $PROTO >"$1"; }
# A model whose one initializer 'w' (4 floats) is external data at LOCATION; y = Identity(w).
external_model() {
  onnx "$1" <<EOF
ir_version: 8
opset_import { domain: "" version: 17 }
graph { name: "g"
  node { op_type: "Identity" name: "id" input: "w" output: "y" }
  initializer { name: "w" dims: 4 data_type: 1 data_location: EXTERNAL
    external_data { key: "location" value: "$2" } }
  output { name: "y" type { tensor_type { elem_type: 1 shape { dim { dim_value: 4 } } } } } }
EOF
}
# A model computing y = OP(inputs...) from int64 constants (name=values pairs), opset $2.
op_model() {
  local file=$1 opset=$2 op=$3 inputs=$4; shift 4
  local inits="" names=""
  for spec in "$@"; do
    local name=${spec%%=*} values=${spec#*=} dims
    dims=$(echo "$values" | tr ',' '\n' | wc -l)
    inits+="initializer { name: \"$name\" dims: $dims data_type: 7 $(echo "$values" | tr ',' '\n' | sed 's/.*/int64_data: &/' | tr '\n' ' ') } "
  done
  onnx "$file" <<EOF
ir_version: 8
opset_import { domain: "" version: $opset }
graph { name: "g"
  node { op_type: "$op" name: "hostile_$op" $(for i in $inputs; do printf 'input: "%s" ' "$i"; done) output: "y" }
  $inits
  input { name: "x" type { tensor_type { elem_type: 1 } } }
  output { name: "y" type { tensor_type { elem_type: 1 } } } }
EOF
}
npy_f32() { python3 - "$1" "$2" <<'EOF'
import struct, sys
path, n = sys.argv[1], int(sys.argv[2])
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }" % n
header += " " * (63 - (10 + len(header)) % 64) + "\n"
open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack("<%df" % n, *range(n)))
EOF
}
# No temporary or partial file may be left in $WORK by any case.
no_leftovers() {
  if find "$WORK" -name '*.ember-tmp-*' -o -name '*.tmp-*' | grep -q .; then fail "$1: a temporary file was left behind"; else pass; fi
}

echo "== external data stays inside the model's directory =="
mkdir -p "$WORK/models/sub" "$WORK/outside"
printf '\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40' >"$WORK/outside/secret.bin"
cp "$WORK/outside/secret.bin" "$WORK/models/sub/ok.bin"
ln -s "$WORK/outside/secret.bin" "$WORK/models/link-out.bin"
ln -s sub/ok.bin "$WORK/models/link-in.bin"
mkfifo "$WORK/models/fifo.bin"
external_model "$WORK/models/dotdot.onnx" "../outside/secret.bin"
external_model "$WORK/models/abs.onnx" "$WORK/outside/secret.bin"
external_model "$WORK/models/passwd.onnx" "/etc/passwd"
external_model "$WORK/models/deep.onnx" "sub/../../outside/secret.bin"
external_model "$WORK/models/link-out.onnx" "link-out.bin"
external_model "$WORK/models/fifo.onnx" "fifo.bin"
external_model "$WORK/models/dir.onnx" "sub"
external_model "$WORK/models/link-in.onnx" "link-in.bin"
external_model "$WORK/models/inside.onnx" "sub/ok.bin"
for m in dotdot abs passwd deep link-out fifo dir; do
  for sub in inspect run; do
    run 2 "$sub with external data '$m'" -- E $sub "$WORK/models/$m.onnx"
    expect_stderr_contains "tensor 'w'"
  done
  run 2 "opt copying external data '$m'" -- E opt "$WORK/models/$m.onnx" -o "$WORK/opt-$m.onnx"
  [ -e "$WORK/opt-$m.onnx" ] && fail "opt wrote a model from '$m'" || pass
done
for m in dotdot deep; do E inspect "$WORK/models/$m.onnx" >/dev/null 2>"$WORK/err"; expect_stderr_contains "'..'"; done
E inspect "$WORK/models/abs.onnx" >/dev/null 2>"$WORK/err"; expect_stderr_contains "absolute path"
E inspect "$WORK/models/link-out.onnx" >/dev/null 2>"$WORK/err"; expect_stderr_contains "outside the model's directory"
E inspect "$WORK/models/fifo.onnx" >/dev/null 2>"$WORK/err"; expect_stderr_contains "FIFO"
for m in link-in inside; do
  run 0 "run with external data '$m' inside the folder" -- E run "$WORK/models/$m.onnx" --json
  expect_stdout_contains '"max": 4'
done

echo "== sizes a model controls: refused with the node and the size, never a crash =="
op_model "$WORK/expand.onnx" 17 Expand "x shape" "shape=100000,100000,3"
op_model "$WORK/tile.onnx" 17 Tile "x reps" "reps=1000000000000"
op_model "$WORK/cos.onnx" 17 ConstantOfShape "shape" "shape=4000000,4000000"
op_model "$WORK/overflow.onnx" 17 ConstantOfShape "shape" "shape=4000000000,4000000000,4000000000"
op_model "$WORK/range.onnx" 17 Range "a b c" "a=-9223372036854775807" "b=9223372036854775807" "c=1"
npy_f32 "$WORK/x.npy" 3
for m in expand tile cos overflow range; do
  run 2 "run $m to a huge shape" -- E run "$WORK/$m.onnx" --input x="$WORK/x.npy"
  expect_stderr_contains "hostile_"
done
for m in expand tile cos; do E run "$WORK/$m.onnx" --input x="$WORK/x.npy" >/dev/null 2>"$WORK/err"; expect_stderr_contains "asked"; done
run 2 "a 1 MB tensor cap" -- E --max-tensor-memory 1M run "$WORK/expand.onnx" --input x="$WORK/x.npy"
expect_stderr_contains "cap of 1.0 MB"
run 2 "a bad --max-memory" -- E --max-memory lots run "$S/digits-cnn.onnx"
run 0 "eval with --threads 1000" -- E eval "$S/digits-cnn.onnx" --task classify --data "$S/digits-eval.npz" --limit 8 --threads 1000
expect_stderr_contains "note: --threads 1000"
for bad in -1 100000 nan; do run 2 "--threads $bad" -- E run "$S/digits-cnn.onnx" --threads $bad; done

echo "== iteration caps: Loop iterations and sequence lengths (ember --max-loop-iterations, --max-sequence-length) =="
# loop_model FILE M_INPUT: y = Loop(M, true, x) whose body keeps the condition true.
loop_model() {
  onnx "$1" <<EOF
ir_version: 8
opset_import { domain: "" version: 17 }
graph { name: "g"
  node { op_type: "Loop" name: "hostile_loop" input: "$2" input: "cond" input: "x" output: "y"
    attribute { name: "body" type: GRAPH g { name: "body"
      node { op_type: "Identity" name: "keep" input: "c_in" output: "c_out" }
      node { op_type: "Identity" name: "same" input: "v_in" output: "v_out" }
      input { name: "i" type { tensor_type { elem_type: 7 shape { } } } }
      input { name: "c_in" type { tensor_type { elem_type: 9 shape { } } } }
      input { name: "v_in" type { tensor_type { elem_type: 1 } } }
      output { name: "c_out" type { tensor_type { elem_type: 9 shape { } } } }
      output { name: "v_out" type { tensor_type { elem_type: 1 } } } } } }
  initializer { name: "cond" data_type: 9 int32_data: 1 }
  initializer { name: "M" data_type: 7 int64_data: 4611686018427387904 }
  input { name: "x" type { tensor_type { elem_type: 1 } } }
  output { name: "y" type { tensor_type { elem_type: 1 } } } }
EOF
}
loop_model "$WORK/forever.onnx" ""
loop_model "$WORK/trips.onnx" "M"
onnx "$WORK/scan.onnx" <<EOF
ir_version: 8
opset_import { domain: "" version: 17 }
graph { name: "g"
  node { op_type: "Scan" name: "hostile_scan" input: "s0" input: "x" output: "y"
    attribute { name: "num_scan_inputs" type: INT i: 1 }
    attribute { name: "body" type: GRAPH g { name: "body"
      node { op_type: "Add" name: "add" input: "st" input: "row" output: "st2" }
      input { name: "st" type { tensor_type { elem_type: 1 shape { } } } }
      input { name: "row" type { tensor_type { elem_type: 1 shape { } } } }
      output { name: "st2" type { tensor_type { elem_type: 1 shape { } } } } } } }
  initializer { name: "s0" data_type: 1 float_data: 0 }
  input { name: "x" type { tensor_type { elem_type: 1 } } }
  output { name: "y" type { tensor_type { elem_type: 1 } } } }
EOF
run 2 "a Loop whose condition stays true" -- E --max-loop-iterations 1000 run "$WORK/forever.onnx" --input x="$WORK/x.npy"
expect_stderr_contains "hostile_loop"
expect_stderr_contains "1001 loop iterations asked, above the cap of 1000"
run 2 "a Loop with a trip count of 2^62" -- E run "$WORK/trips.onnx" --input x="$WORK/x.npy"
expect_stderr_contains "4611686018427387904 loop iterations asked"
npy_f32 "$WORK/row5.npy" 5
run 0 "a Scan of 5 steps under the default cap" -- E run "$WORK/scan.onnx" --input x="$WORK/row5.npy"
run 2 "a Scan of 5 steps with --max-sequence-length 4" -- E --max-sequence-length 4 run "$WORK/scan.onnx" --input x="$WORK/row5.npy"
expect_stderr_contains "hostile_scan"
expect_stderr_contains "5 sequence steps asked, above the cap of 4"
for bad in 0 -1 lots 1e3; do run 2 "--max-loop-iterations $bad" -- E --max-loop-iterations $bad inspect "$S/digits-cnn.onnx"; done
run 2 "--max-sequence-length 0" -- E --max-sequence-length 0 inspect "$S/digits-cnn.onnx"
RT=$(dirname "$EMBER")/ember-rt
if [ -x "$RT" ]; then  # the tiny runtime takes the same caps (tools/common/cli_checks.h)
  run 2 "ember-rt: a Loop whose condition stays true" -- timeout 60 "$RT" --max-loop-iterations 1000 run "$WORK/forever.onnx" --input x="$WORK/x.npy"
  expect_stderr_contains "1001 loop iterations asked, above the cap of 1000"
  run 2 "ember-rt: a Scan of 5 steps with --max-sequence-length 4" -- timeout 60 "$RT" --max-sequence-length 4 run "$WORK/scan.onnx" --input x="$WORK/row5.npy"
  expect_stderr_contains "5 sequence steps asked, above the cap of 4"
  run 2 "ember-rt: a 1 MB tensor cap" -- timeout 60 "$RT" --max-tensor-memory 1M run "$WORK/expand.onnx" --input x="$WORK/x.npy"
  expect_stderr_contains "cap of 1.0 MB"
  run 2 "ember-rt --max-loop-iterations 0" -- timeout 60 "$RT" --max-loop-iterations 0 check "$S/digits-cnn.onnx" --manifest /dev/null
fi

echo "== opsets =="
op_model "$WORK/opset999.onnx" 999 Identity "x"
op_model "$WORK/opset0.onnx" 0 Identity "x"
onnx "$WORK/noopset.onnx" <<EOF
ir_version: 8
opset_import { domain: "com.microsoft" version: 1 }
graph { name: "g" node { op_type: "Identity" input: "x" output: "y" }
  input { name: "x" type { tensor_type { elem_type: 1 } } } output { name: "y" type { tensor_type { elem_type: 1 } } } }
EOF
for m in opset999 opset0 noopset; do run 2 "inspect $m" -- E inspect "$WORK/$m.onnx"; expect_stderr_contains "opset"; done

echo "== FIFOs and devices never block =="
mkfifo "$WORK/fifo.onnx" "$WORK/fifo.npy" "$WORK/fifo.npz"
run 2 "a FIFO as the model" -- E inspect "$WORK/fifo.onnx"
expect_stderr_contains "FIFO"
run 2 "a FIFO as an input" -- E run "$S/digits-cnn.onnx" --input input="$WORK/fifo.npy"
run 2 "a FIFO as the evaluation set" -- E eval "$S/digits-cnn.onnx" --task classify --data "$WORK/fifo.npz"
run 2 "/dev/zero as the model" -- E inspect /dev/zero
expect_stderr_contains "device"
if [ -x "$RT" ]; then
  run 2 "ember-rt: a FIFO as the manifest" -- timeout 60 "$RT" run "$S/digits-cnn.onnx" --manifest "$WORK/fifo.npz"
  run 2 "ember-rt: /dev/zero as the manifest" -- timeout 60 "$RT" run "$S/digits-cnn.onnx" --manifest /dev/zero
fi

echo "== .npz bombs and lies =="
python3 - "$WORK" <<'EOF'
import struct, sys, zipfile
work = sys.argv[1]
def npy(shape, descr="<f4"):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, "".join("%d, " % d for d in shape))
    h += " " * (63 - (10 + len(h)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode()
# A header declaring 4 floats, followed by 64 MB of zeros that deflate to about 64 KB.
with zipfile.ZipFile(work + "/bomb.npz", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("input.npy", npy((4,)) + bytes(16) + bytes(64 << 20))
# A header declaring 2^40 floats in a small member.
with zipfile.ZipFile(work + "/liar.npz", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("input.npy", npy((1 << 40,)) + bytes(1024))
# Member names that look like paths are keys, never files to open.
with zipfile.ZipFile(work + "/paths.npz", "w") as z:
    z.writestr("../../etc/passwd.npy", npy((1,)) + bytes(4))
    z.writestr("labels.npy", npy((0,), "<i8"))
# An empty evaluation set.
open(work + "/empty-eval.npy", "wb").write(npy((0, 9), "<i8"))
EOF
start=$(date +%s)
run 2 ".npz member inflating past its header" -- E eval "$S/digits-cnn.onnx" --task classify --data "$WORK/bomb.npz"
expect_stderr_contains "entry"
[ $(( $(date +%s) - start )) -lt 20 ] && pass || fail ".npz bomb took $(( $(date +%s) - start )) s"
run 2 ".npz member declaring 4 TB" -- E eval "$S/digits-cnn.onnx" --task classify --data "$WORK/liar.npz"
run 2 ".npz with path-like member names" -- E eval "$S/digits-cnn.onnx" --task classify --data "$WORK/paths.npz"
run 2 "eval on an empty set" -- E eval "$S/kjv-gpt2-tiny.onnx" --task lm --data "$WORK/empty-eval.npy"
expect_stderr_contains "no rows"

echo "== option values =="
for b in nan -1 inf 2 abc; do
  run 2 "compress --budget $b" -- E compress "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --eval "$S/digits-eval.npz" --task classify --budget $b -o "$WORK/c-$b"
  [ -e "$WORK/c-$b" ] && fail "compress --budget $b left an output folder" || pass
done
run 2 "eval --batch 0" -- E eval "$S/digits-cnn.onnx" --task classify --data "$S/digits-eval.npz" --batch 0
run 2 "eval --limit -5" -- E eval "$S/digits-cnn.onnx" --task classify --data "$S/digits-eval.npz" --limit -5
run 2 "calibrate --percentile nan" -- E calibrate "$S/digits-cnn.onnx" --data "$S/digits-calib.npz" --method percentile --percentile nan -o "$WORK/t.json"
run 2 "calibrate --percentile 0" -- E calibrate "$S/digits-cnn.onnx" --data "$S/digits-calib.npz" --method percentile --percentile 0 -o "$WORK/t.json"
run 2 "quantize --smoothquant nan" -- E quantize "$S/digits-cnn.onnx" --smoothquant nan -o "$WORK/q.onnx"
run 2 "quantize --block 7" -- E quantize "$S/digits-cnn.onnx" --block 7 -o "$WORK/q.onnx"
run 2 "inspect --top -1" -- E inspect "$S/digits-cnn.onnx" --top -1
run 2 "importance --batch 0" -- E importance "$S/digits-cnn.onnx" --data "$S/digits-calib.npz" --batch 0

echo "== names that are not UTF-8 =="
onnx "$WORK/latin1.onnx" 2>/dev/null <<EOF  # protoc warns that the names are not UTF-8: the point
ir_version: 8
opset_import { domain: "" version: 17 }
graph { name: "g\\351" node { op_type: "Identity" name: "n\\377" input: "x\\351" output: "y\\351" }
  input { name: "x\\351" type { tensor_type { elem_type: 1 } } } output { name: "y\\351" type { tensor_type { elem_type: 1 } } } }
EOF
run 0 "inspect --json with latin-1 names" -- E inspect "$WORK/latin1.onnx" --json
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/out" && pass || fail "inspect --json printed invalid JSON"

echo "== outputs: only regular files are replaced, no leftovers =="
mkfifo "$WORK/out-fifo"
echo keep >"$WORK/target.txt"
ln -s "$WORK/target.txt" "$WORK/out-link"
run 2 "-o a FIFO" -- E opt "$S/digits-cnn.onnx" -o "$WORK/out-fifo"
[ -p "$WORK/out-fifo" ] && pass || fail "the FIFO was replaced"
run 2 "-o a symlink" -- E opt "$S/digits-cnn.onnx" -o "$WORK/out-link"
[ -L "$WORK/out-link" ] && [ "$(cat "$WORK/target.txt")" = keep ] && pass || fail "the symlink or its target was replaced"
if [ "$(id -u)" = 0 ]; then
  mknod "$WORK/out-null" c 1 3
  run 2 "-o a device node" -- E opt "$S/digits-cnn.onnx" -o "$WORK/out-null"
  [ -c "$WORK/out-null" ] && pass || fail "the device node was replaced"
fi
run 2 "run --output-dir on a FIFO target" -- E run "$WORK/models/inside.onnx" -o "$WORK/out-fifo"
# A stale temporary file of a dead process is removed by the next write of the same target.
: >"$WORK/clean.onnx.ember-tmp-999999999-AbCdEf"
: >"$WORK/clean.onnx.ember-tmp-$$-AbCdEf"   # this shell is alive: kept
run 0 "opt writes beside stale temporaries" -- E opt "$S/digits-cnn.onnx" -o "$WORK/clean.onnx"
[ -e "$WORK/clean.onnx.ember-tmp-999999999-AbCdEf" ] && fail "a stale temporary file was not removed" || pass
[ -e "$WORK/clean.onnx.ember-tmp-$$-AbCdEf" ] && pass || fail "a live process's temporary file was removed"
rm -f "$WORK/clean.onnx.ember-tmp-$$-AbCdEf"
# A run that fails after creating its output folder removes it again.
run 2 "compress with a broken evaluation set" -- E compress "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --eval "$WORK/bomb.npz" --task classify -o "$WORK/new/compressed"
[ -e "$WORK/new" ] && fail "a failed compress left an output folder" || pass
no_leftovers "hostile inputs"

echo "hostile cases tried: $cases"
finish
