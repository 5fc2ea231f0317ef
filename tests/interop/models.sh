# The models the interop tests cover, with their evaluation data: "model task data".
# Sample models always; the shared ones when ../shared is present.
interop_models() {
  local S=$ROOT/samples
  echo "$S/kjv-gpt2-tiny.onnx lm $S/kjv-lm-eval.npy"
  echo "$S/digits-cnn.onnx classify $S/digits-eval.npz"
  if [ -d "$SHARED/models" ]; then
    echo "$SHARED/models/kjv-gpt2.onnx lm $SHARED/data/kjv-lm-eval.npy"
    echo "$SHARED/models/kjv-gpt2-tiny.onnx lm $SHARED/data/kjv-lm-eval.npy"
    echo "$SHARED/models/kjv-bert.onnx classify $SHARED/data/kjv-cls-eval.npz"
    echo "$SHARED/models/digits-cnn.onnx classify $SHARED/data/digits-eval.npz"
  else
    echo "note: $SHARED/models is absent; only the sample models are checked" >&2
  fi
}
need_node() {
  if ! node -e "require('onnxruntime-node'); require('adm-zip')" 2>/dev/null; then
    echo "SKIP: onnxruntime-node is not installed (scripts/test.sh installs it with npm)"; exit 77
  fi
}
