#!/usr/bin/env bash
# Sequences and optionals from the command line (issue 17): models built here from protobuf
# text with protoc. `ember run` computes through SplitToSequence / ConcatFromSequence / a Loop
# that grows a sequence, and writes a sequence output as one .npy per tensor; a sequence op
# given a tensor, a tensor op given a sequence, and a sequence longer than
# --max-sequence-length end in exit 2 naming the node.
source "$(dirname "$0")/lib.sh"
for tool in protoc python3 timeout; do
  command -v $tool >/dev/null || { echo "SKIP: $tool is not installed (scripts/install-deps.sh)"; exit 77; }
done
PROTO=/usr/include/onnx/onnx.proto
[ -f $PROTO ] || { echo "SKIP: $PROTO is absent (libonnx-dev)"; exit 77; }
E() { timeout 60 "$EMBER" "$@"; }
onnx() { protoc --encode=onnx.ModelProto -I/usr/include $PROTO >"$1"; }
# model FILE OUTPUT_TYPE NODES...: input x (float), output y of OUTPUT_TYPE, opset 18.
model() {
  local file=$1 out_type=$2; shift 2
  onnx "$file" <<EOF
ir_version: 8
opset_import { domain: "" version: 18 }
graph { name: "g"
  $*
  input { name: "x" type { tensor_type { elem_type: 1 } } }
  output { name: "y" type { $out_type } } }
EOF
}
TENSOR='tensor_type { elem_type: 1 }'
SEQ='sequence_type { elem_type { tensor_type { elem_type: 1 } } }'
python3 - "$WORK/x.npy" <<'EOF'
import struct, sys
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }"
header += " " * (63 - (10 + len(header)) % 64) + "\n"
open(sys.argv[1], "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack("<6f", *range(6)))
EOF

echo "== split and concatenate: the input comes back =="
model "$WORK/roundtrip.onnx" "$TENSOR" \
  'node { op_type: "SplitToSequence" name: "split" input: "x" output: "s" attribute { name: "axis" type: INT i: 0 } }' \
  'node { op_type: "ConcatFromSequence" name: "join" input: "s" output: "y" attribute { name: "axis" type: INT i: 0 } }'
expect_exit 0 "SplitToSequence then ConcatFromSequence" -- E run "$WORK/roundtrip.onnx" --input x="$WORK/x.npy" -o "$WORK/rt"
if cmp -s "$WORK/x.npy" "$WORK/rt/y.npy"; then pass; else fail "the round trip changed the tensor"; fi

echo "== a sequence output: one .npy per tensor =="
model "$WORK/rows.onnx" "$SEQ" \
  'node { op_type: "SplitToSequence" name: "rows" input: "x" output: "y" attribute { name: "keepdims" type: INT i: 0 } }'
expect_exit 0 "a sequence output" -- E run "$WORK/rows.onnx" --input x="$WORK/x.npy" -o "$WORK/rows"
expect_stdout_contains "y: sequence of 3 f32 tensors (seq(tensor(f32)))"
expect_stdout_contains "y.2"
if [ -f "$WORK/rows/y.0.npy" ] && [ -f "$WORK/rows/y.2.npy" ] && [ ! -e "$WORK/rows/y.3.npy" ]; then pass; else fail "expected y.0.npy .. y.2.npy"; ls "$WORK/rows"; fi

echo "== a Loop grows a sequence; --max-sequence-length caps it =="
LOOP='node { op_type: "Loop" name: "loop" input: "M" input: "" input: "s0" output: "s"
    attribute { name: "body" type: GRAPH g { name: "body"
      node { op_type: "Identity" name: "keep" input: "c_in" output: "c_out" }
      node { op_type: "SequenceInsert" name: "grow" input: "s_in" input: "x" output: "s_out" }
      input { name: "i" type { tensor_type { elem_type: 7 shape { } } } }
      input { name: "c_in" type { tensor_type { elem_type: 9 shape { } } } }
      input { name: "s_in" type { '"$SEQ"' } }
      output { name: "c_out" type { tensor_type { elem_type: 9 shape { } } } }
      output { name: "s_out" type { '"$SEQ"' } } } } }'
model "$WORK/grow.onnx" 'tensor_type { elem_type: 7 shape { } }' \
  'node { op_type: "SequenceEmpty" name: "empty" output: "s0" }' "$LOOP" \
  'node { op_type: "SequenceLength" name: "count" input: "s" output: "y" }' \
  'initializer { name: "M" data_type: 7 int64_data: 50 }'
expect_exit 0 "a Loop inserting 50 times" -- E run "$WORK/grow.onnx" --input x="$WORK/x.npy" --json
expect_stdout_contains '"mean": 50.0'
expect_exit 2 "the same with --max-sequence-length 10" -- E --max-sequence-length 10 run "$WORK/grow.onnx" --input x="$WORK/x.npy"
expect_stderr_contains "node 'grow' (SequenceInsert)"
expect_stderr_contains "11 sequence steps asked, above the cap of 10"

echo "== kinds mixed up: exit 2 naming the node =="
model "$WORK/len_of_tensor.onnx" 'tensor_type { elem_type: 7 shape { } }' \
  'node { op_type: "SequenceLength" name: "hostile_len" input: "x" output: "y" }'
expect_exit 2 "SequenceLength given a tensor" -- E run "$WORK/len_of_tensor.onnx" --input x="$WORK/x.npy"
expect_stderr_contains "node 'hostile_len' (SequenceLength)"
expect_stderr_contains "must be a sequence, it is a tensor f32 \[3, 2\]"
model "$WORK/add_sequence.onnx" "$TENSOR" \
  'node { op_type: "SequenceConstruct" name: "make" input: "x" output: "s" }' \
  'node { op_type: "Add" name: "hostile_add" input: "s" input: "x" output: "y" }'
expect_exit 2 "Add given a sequence" -- E run "$WORK/add_sequence.onnx" --input x="$WORK/x.npy"
expect_stderr_contains "node 'hostile_add' (Add): input 0 ('s') is a sequence of 1 f32 tensors"
model "$WORK/get_empty.onnx" "$TENSOR" \
  'node { op_type: "Optional" name: "none" output: "o" attribute { name: "type" type: TYPE_PROTO tp { tensor_type { elem_type: 1 } } } }' \
  'node { op_type: "OptionalGetElement" name: "hostile_get" input: "o" output: "y" }'
expect_exit 2 "OptionalGetElement of an empty optional" -- E run "$WORK/get_empty.onnx" --input x="$WORK/x.npy"
expect_stderr_contains "node 'hostile_get' (OptionalGetElement): the optional input is empty"
finish
