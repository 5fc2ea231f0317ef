#!/usr/bin/env bash
# Sequence and optional inputs and outputs on the command line (issue 17), through `ember-rt
# run` and `ember run`: a sequence fed from an .npz (arr_0, arr_1, ...) or a SequenceProto .pb,
# an optional from an .npy or an OptionalProto .pb, a nested sequence from a .pb; outputs
# written as .npy per tensor, .npz or .pb (read back as input), described by --json. The two
# CLIs give byte-identical files. Bad input (a tensor for a sequence, a sequence over
# --max-sequence-length, a truncated .pb) is exit 2 naming the input; an operator given a
# nested sequence is exit 2 naming the node. When onnxruntime-node is installed, the outputs
# are compared with it (see the note printed about sequence feeds).
source "$(dirname "$0")/lib.sh"
RT=$(dirname "$EMBER")/ember-rt
for tool in protoc python3 timeout; do
  command -v $tool >/dev/null || { echo "SKIP: $tool is not installed (scripts/install-deps.sh)"; exit 77; }
done
[ -x "$RT" ] || { echo "SKIP: $RT is not built"; exit 77; }
[ -f /usr/include/onnx/onnx.proto ] || { echo "SKIP: /usr/include/onnx/onnx.proto is absent (libonnx-dev)"; exit 77; }
E() { timeout 60 "$EMBER" "$@"; }
R() { timeout 60 "$RT" "$@"; }
onnx() { protoc --encode=onnx.ModelProto -I/usr/include /usr/include/onnx/onnx.proto >"$1"; }
# SequenceProto / OptionalProto (onnx-data.proto's field numbers), for writing the .pb inputs.
mkdir -p "$WORK/proto"
cat >"$WORK/proto/values.proto" <<'PROTO'
syntax = "proto2";
package values;
option optimize_for = LITE_RUNTIME;
import "onnx/onnx.proto";
message SequenceProto { optional string name = 1; optional int32 elem_type = 2;
  repeated onnx.TensorProto tensor_values = 3; repeated SequenceProto sequence_values = 5; }
message OptionalProto { optional string name = 1; optional int32 elem_type = 2;
  optional onnx.TensorProto tensor_value = 3; optional SequenceProto sequence_value = 5; }
PROTO
value_pb() { protoc --encode=values.$1 -I/usr/include -I"$WORK/proto" "$WORK/proto/values.proto" >"$2"; }
# same_array A.npy B.npy: the same shape, dtype and values (headers may be padded differently).
same_array() {
  python3 - "$1" "$2" <<'PY'
import ast, struct, sys
def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<H", b[8:10])[0]
    h = ast.literal_eval(b[10:10 + n].decode())
    return h["descr"], tuple(h["shape"]), b[10 + n:]
sys.exit(0 if load(sys.argv[1]) == load(sys.argv[2]) else 1)
PY
}
SEQ='sequence_type { elem_type { tensor_type { elem_type: 1 } } }'
NESTED='sequence_type { elem_type { '"$SEQ"' } }'

# seq.onnx: s (a sequence of f32) and x -> t = s with x appended (a sequence), y = its tensors
# concatenated along axis 0, n = its length.
SEQ_NODES='node { op_type: "SequenceInsert" name: "append" input: "s" input: "x" output: "t" }
  node { op_type: "ConcatFromSequence" name: "join" input: "t" output: "y" attribute { name: "axis" type: INT i: 0 } }
  node { op_type: "SequenceLength" name: "count" input: "t" output: "n" }'
OUTS='output { name: "y" type { tensor_type { elem_type: 1 } } }
  output { name: "t" type { '"$SEQ"' } }
  output { name: "n" type { tensor_type { elem_type: 7 } } }'
onnx "$WORK/seq.onnx" <<EOF2
ir_version: 8 opset_import { domain: "" version: 18 }
graph { name: "g" $SEQ_NODES
  input { name: "s" type { $SEQ } }
  input { name: "x" type { tensor_type { elem_type: 1 } } }
  $OUTS }
EOF2
# The same computation with the sequence built inside from three tensors (for onnxruntime).
onnx "$WORK/built.onnx" <<EOF2
ir_version: 8 opset_import { domain: "" version: 18 }
graph { name: "g"
  node { op_type: "SequenceConstruct" name: "make" input: "a" input: "b" input: "c" output: "s" } $SEQ_NODES
  input { name: "a" type { tensor_type { elem_type: 1 } } }
  input { name: "b" type { tensor_type { elem_type: 1 } } }
  input { name: "c" type { tensor_type { elem_type: 1 } } }
  input { name: "x" type { tensor_type { elem_type: 1 } } }
  $OUTS }
EOF2
# Inputs: a, b, c, x as .npy ([2,3], [1,3], [4,3], [1,3]), s = [a, b, c] as .npz and as .pb.
python3 - "$WORK" <<'PY'
import struct, sys, zipfile, random
work = sys.argv[1]
random.seed(7)
def npy(shape, values):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join("%d, " % d for d in shape)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack("<%df" % len(values), *values)
tensors = {}
for name, rows in (("a", 2), ("b", 1), ("c", 4), ("x", 1)):
    values = [round(random.uniform(-2, 2), 3) for _ in range(rows * 3)]
    tensors[name] = (rows, values)
    open("%s/%s.npy" % (work, name), "wb").write(npy((rows, 3), values))
with zipfile.ZipFile(work + "/s.npz", "w") as z:
    for i, name in enumerate("abc"):
        z.writestr("arr_%d.npy" % i, npy((tensors[name][0], 3), tensors[name][1]))
with zipfile.ZipFile(work + "/badkeys.npz", "w") as z:
    z.writestr("first.npy", npy((1, 3), [0, 0, 0]))
def tensor_text(name):
    rows, values = tensors[name]
    return "tensor_values { dims: %d dims: 3 data_type: 1 %s }" % (rows, " ".join("float_data: %r" % v for v in values))
open(work + "/s.txt", "w").write('name: "s" elem_type: 1 ' + " ".join(tensor_text(n) for n in "abc"))
open(work + "/nested.txt", "w").write('name: "nn" elem_type: 3 sequence_values { elem_type: 1 %s %s } sequence_values { elem_type: 1 %s }'
                                      % (tensor_text("a"), tensor_text("b"), tensor_text("c")))
PY
value_pb SequenceProto "$WORK/s.pb" <"$WORK/s.txt"
value_pb SequenceProto "$WORK/nested.pb" <"$WORK/nested.txt"

echo "== a sequence input from .npz: ember-rt run and ember run =="
expect_exit 0 "ember-rt run, s from .npz" -- R run "$WORK/seq.onnx" --input s="$WORK/s.npz" --input x="$WORK/x.npy" -o "$WORK/rt" --json
expect_stdout_contains '"type": "seq(tensor(f32))"'
expect_stdout_contains '"length": 4'
expect_stdout_contains '"name": "t.3"'
expect_exit 0 "ember run, s from .pb" -- E run "$WORK/seq.onnx" --input s="$WORK/s.pb" --input x="$WORK/x.npy" -o "$WORK/em"
expect_stdout_contains "t: sequence of 4 f32 tensors (seq(tensor(f32)))"
for f in y.npy n.npy t.0.npy t.3.npy; do
  if cmp -s "$WORK/rt/$f" "$WORK/em/$f"; then pass; else fail "ember-rt and ember differ on $f"; fi
done
if same_array "$WORK/rt/t.3.npy" "$WORK/x.npy"; then pass; else fail "t.3 is not the appended x"; fi

echo "== sequence outputs as .npz and .pb; the .pb feeds the model again =="
expect_exit 0 "ember-rt --sequence-format pb" -- R run "$WORK/seq.onnx" --input s="$WORK/s.npz" --input x="$WORK/x.npy" -o "$WORK/rtpb" --sequence-format pb
expect_exit 0 "ember --sequence-format pb" -- E run "$WORK/seq.onnx" --input s="$WORK/s.npz" --input x="$WORK/x.npy" -o "$WORK/empb" --sequence-format pb
if cmp -s "$WORK/rtpb/t.pb" "$WORK/empb/t.pb"; then pass; else fail "the two CLIs wrote different t.pb"; fi
expect_exit 0 "ember-rt --sequence-format npz" -- R run "$WORK/seq.onnx" --input s="$WORK/s.npz" --input x="$WORK/x.npy" -o "$WORK/rtnpz" --sequence-format npz
expect_exit 0 "t.pb fed back as s" -- R run "$WORK/seq.onnx" --input s="$WORK/rtpb/t.pb" --input x="$WORK/x.npy" --json
expect_stdout_contains '"length": 5'
expect_exit 0 "t.npz fed back as s" -- R run "$WORK/seq.onnx" --input s="$WORK/rtnpz/t.npz" --input x="$WORK/x.npy" --json
expect_stdout_contains '"length": 5'
expect_exit 2 "bad --sequence-format" -- R run "$WORK/seq.onnx" --input s="$WORK/s.npz" --input x="$WORK/x.npy" --sequence-format csv
expect_exit 0 "--help documents the options" -- R run --help
expect_stdout_contains "sequence-format"
expect_stdout_contains "SequenceProto"

expect_exit 2 "ember-rt serve refuses a sequence model before listening" -- R serve "$WORK/seq.onnx" --port 0
expect_stderr_contains "input 's' of .*seq.onnx is a sequence or an optional; ember-rt serve (KServe v2 JSON) carries tensors only"

echo "== bad sequence input: exit 2 naming the input =="
expect_exit 2 "a tensor where a sequence is expected (ember-rt)" -- R run "$WORK/seq.onnx" --input s="$WORK/a.npy" --input x="$WORK/x.npy"
expect_stderr_contains "input 's' expects seq(tensor(f32)), got a tensor f32 \[2, 3\]"
expect_exit 2 "a tensor where a sequence is expected (ember)" -- E run "$WORK/seq.onnx" --input s="$WORK/a.npy" --input x="$WORK/x.npy"
expect_stderr_contains "input 's' expects seq(tensor(f32))"
expect_exit 2 "a sequence where a tensor is expected" -- R run "$WORK/seq.onnx" --input s="$WORK/s.npz" --input x="$WORK/s.npz"
expect_stderr_contains "input 'x' expects f32"
expect_exit 2 "over --max-sequence-length (ember-rt)" -- R --max-sequence-length 2 run "$WORK/seq.onnx" --input s="$WORK/s.pb" --input x="$WORK/x.npy"
expect_stderr_contains "input 's'"
expect_stderr_contains "3 sequence steps asked, above the cap of 2"
expect_exit 2 "over --max-sequence-length (ember, .npz)" -- E --max-sequence-length 2 run "$WORK/seq.onnx" --input s="$WORK/s.npz" --input x="$WORK/x.npy"
expect_stderr_contains "input 's'"
head -c 40 "$WORK/s.pb" >"$WORK/cut.pb"
expect_exit 2 "a truncated .pb" -- R run "$WORK/seq.onnx" --input s="$WORK/cut.pb" --input x="$WORK/x.npy"
expect_stderr_contains "input 's'"
expect_stderr_contains "cut.pb: not a valid SequenceProto"
expect_exit 2 "badly named .npz entries" -- E run "$WORK/seq.onnx" --input s="$WORK/badkeys.npz" --input x="$WORK/x.npy"
expect_stderr_contains "entry 'first' is not one of arr_0"
expect_exit 2 "an unknown input name" -- R run "$WORK/seq.onnx" --input q="$WORK/s.npz"
expect_stderr_contains "the model has no input named 'q' (inputs: s, x)"

echo "== optionals: a tensor (.npy, wrapped) or an empty OptionalProto =="
onnx "$WORK/opt.onnx" <<EOF2
ir_version: 8 opset_import { domain: "" version: 18 }
graph { name: "g"
  node { op_type: "OptionalHasElement" name: "has" input: "o" output: "h" }
  node { op_type: "Identity" name: "keep" input: "o" output: "p" }
  input { name: "o" type { optional_type { elem_type { tensor_type { elem_type: 1 } } } } }
  output { name: "h" type { tensor_type { elem_type: 9 } } }
  output { name: "p" type { optional_type { elem_type { tensor_type { elem_type: 1 } } } } } }
EOF2
echo 'name: "o" elem_type: 1' | value_pb OptionalProto "$WORK/none.pb"
expect_exit 0 "an .npy for an optional input" -- R run "$WORK/opt.onnx" --input o="$WORK/a.npy" --json
expect_stdout_contains '"has_element": true'
expect_stdout_contains '"max": 1.0'
expect_exit 0 "an empty optional from .pb" -- R run "$WORK/opt.onnx" --input o="$WORK/none.pb" -o "$WORK/none" --sequence-format pb --json
expect_stdout_contains '"has_element": false'
expect_exit 0 "the written empty optional fed back (ember)" -- E run "$WORK/opt.onnx" --input o="$WORK/none/p.pb" --json
expect_stdout_contains '"max": 0.0'

echo "== a nested sequence: passed from input to output; an operator given one is exit 2 =="
onnx "$WORK/nested.onnx" <<EOF2
ir_version: 8 opset_import { domain: "" version: 18 }
graph { name: "g"
  input { name: "nn" type { $NESTED } }
  output { name: "nn" type { $NESTED } } }
EOF2
expect_exit 0 "a nested sequence through ember-rt" -- R run "$WORK/nested.onnx" --input nn="$WORK/nested.pb" -o "$WORK/nest" --sequence-format pb --json
expect_stdout_contains '"type": "seq(seq(tensor(f32)))"'
expect_stdout_contains '"name": "nn.1.0"'
expect_exit 0 "the same through ember" -- E run "$WORK/nested.onnx" --input nn="$WORK/nest/nn.pb" -o "$WORK/nest2" --sequence-format pb
if cmp -s "$WORK/nest/nn.pb" "$WORK/nest2/nn.pb"; then pass; else fail "the nested sequence changed on the way"; fi
expect_exit 0 "a nested sequence as .npy files" -- E run "$WORK/nested.onnx" --input nn="$WORK/nested.pb" -o "$WORK/nest3"
if same_array "$WORK/nest3/nn.1.0.npy" "$WORK/c.npy"; then pass; else fail "nn.1.0.npy is not c"; fi
onnx "$WORK/nested_identity.onnx" <<EOF2
ir_version: 8 opset_import { domain: "" version: 18 }
graph { name: "g"
  node { op_type: "Identity" name: "copy_nested" input: "nn" output: "out" }
  input { name: "nn" type { $NESTED } }
  output { name: "out" type { $NESTED } } }
EOF2
expect_exit 2 "Identity of a nested sequence" -- R run "$WORK/nested_identity.onnx" --input nn="$WORK/nested.pb"
expect_stderr_contains "node 'copy_nested' (Identity): input 0 ('nn') is a sequence of 2 sequences of f32 tensors"
expect_exit 2 "a flat sequence for the nested input" -- R run "$WORK/nested.onnx" --input nn="$WORK/s.npz"
expect_stderr_contains "input 'nn' expects seq(seq(tensor(f32)))"

echo "== onnxruntime-node =="
if ! NODE_PATH=${NODE_PATH:-$ROOT/build/node/node_modules} node -e "require('onnxruntime-node')" 2>/dev/null; then
  echo "note: onnxruntime-node is not installed (scripts/test.sh installs it with npm): the comparison with it is skipped"
else
  NODE_PATH=${NODE_PATH:-$ROOT/build/node/node_modules} node "$ROOT/tests/interop/sequence_ort.js" "$WORK" >"$WORK/ort.out" 2>&1
  status=$?
  cat "$WORK/ort.out"
  if [ $status = 0 ]; then pass; else fail "onnxruntime-node and ember-rt disagree"; fi
fi
finish
