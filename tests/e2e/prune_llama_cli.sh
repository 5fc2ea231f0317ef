#!/usr/bin/env bash
# `ember prune` on a tiny Llama-shaped model (issue 15: gated FFNs and grouped-query attention):
# tests/fixtures/make_tiny_llama writes it (RMSNorm, rotary, SwiGLU, 4 query / 2 key-value
# heads, random weights) with token ids. The table lists the SwiGLU neurons and the KV groups
# before and after, the file shrinks, the pruned model evaluates, runs are deterministic.
source "$(dirname "$0")/lib.sh"
MAKE_LLAMA=${2:?usage: prune_llama_cli.sh EMBER MAKE_TINY_LLAMA}
"$MAKE_LLAMA" "$WORK" || { echo "FAIL: make_tiny_llama"; exit 1; }

prune() { "$EMBER" prune "$WORK/llama.onnx" --calib "$WORK/calib.npy" --ffn 0.25 --heads 0.5 --ranking uniform "$@"; }
expect_exit 0 "prune llama (SwiGLU + GQA)" -- prune --score magnitude --head-score magnitude -o "$WORK/p.onnx"
cat "$WORK/out"
for word in neurons kv-groups "48->36" "2->1" parameters MACs/token "left alone" wrote; do expect_stdout_contains "$word"; done
[ "$(stat -c %s "$WORK/p.onnx")" -lt "$(stat -c %s "$WORK/llama.onnx")" ] && pass || fail "the pruned file is not smaller"
expect_exit 0 "the pruned llama evaluates" -- "$EMBER" eval "$WORK/p.onnx" --task lm --data "$WORK/eval.npy"
expect_stdout_contains "bits_per_byte"
expect_exit 0 "prune llama again" -- prune --score magnitude --head-score magnitude -o "$WORK/p2.onnx"
cmp -s "$WORK/p.onnx" "$WORK/p2.onnx" && pass || fail "two prune runs differ"
expect_exit 0 "prune llama --json (gradient scores)" -- prune --score taylor --head-score taylor --recovery lsq-seq \
  -o "$WORK/p3.onnx" --json
for key in '"unit": "kv-groups"' '"unit": "neurons"' '"units_after": 36' '"units_after": 1'; do expect_stdout_contains "$key"; done
expect_exit 0 "the taylor-pruned llama evaluates" -- "$EMBER" eval "$WORK/p3.onnx" --task lm --data "$WORK/eval.npy"
finish
