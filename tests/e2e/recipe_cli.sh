#!/usr/bin/env bash
# ember compress --recipe: the sample recipe read and merged under the flags (--print-recipe),
# a recipe actually steering a run, and bad recipes (schema, regex, FIFO, oversized, missing)
# refused with exit 2 and the JSON path before any model or data is read.
source "$(dirname "$0")/lib.sh"
S=$ROOT/samples
LM=("$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" --eval "$S/kjv-lm-eval.npy" --task lm)

expect_exit 0 "print the sample recipe" -- "$EMBER" compress "${LM[@]}" -o "$WORK/p" --recipe "$S/recipe-kjv-gpt2.json" --print-recipe
expect_stdout_contains '"bpw": 6.5'
expect_stdout_contains '"holdout_rows": 16'
grep -A1 '"eval"' "$WORK/out" | grep -q '"limit": 16' && pass || fail "the recipe's eval limit is not kept"
[ -e "$WORK/p" ] && fail "--print-recipe created the output folder" || pass
# A flag given overrides its field of the recipe.
expect_exit 0 "flags over the recipe" -- "$EMBER" compress "${LM[@]}" -o "$WORK/p" --recipe "$S/recipe-kjv-gpt2.json" --budget 0.02 --eval-limit 4 --print-recipe
expect_stdout_contains '"allowed": 0.02'
grep -A1 '"eval"' "$WORK/out" | grep -q '"limit": 4' && pass || fail "--eval-limit does not override the recipe"
# Pruning is in the default set: --prune replaces its ratios, --no-prune drops them; static
# INT8 activations are offered by --quantize-activations.
expect_exit 0 "--prune replaces the default ratios" -- "$EMBER" compress "${LM[@]}" -o "$WORK/p" --prune 0.2 --print-recipe
expect_stdout_contains '"ratio": 0.2'
grep -q '0.05' "$WORK/out" && fail "--prune kept the default ratio 0.05" || pass
expect_exit 0 "--no-prune" -- "$EMBER" compress "${LM[@]}" -o "$WORK/p" --no-prune --quantize-activations --print-recipe
grep -q '"prune"' "$WORK/out" && fail "--no-prune kept pruning actions" || pass
expect_stdout_contains '"quantize_activations": true'
expect_exit 2 "--no-prune with --prune" -- "$EMBER" compress "${LM[@]}" -o "$WORK/p" --no-prune --prune 0.1
expect_stderr_contains "contradict"

# A recipe steering a real run: its budget and eval limit reach the manifest.
cat >"$WORK/digits.json" <<'JSON'
{"schema": "ember.recipe/1", "budget": {"metric": "accuracy", "allowed": 0.02}, "eval": {"limit": 100}}
JSON
expect_exit 0 "compress digits with a recipe" -- "$EMBER" compress "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --eval "$S/digits-eval.npz" --task classify -o "$WORK/digits" --recipe "$WORK/digits.json"
grep -q '"rows": 100' "$WORK/digits/manifest.json" && pass || fail "the recipe's eval limit did not reach the run"
grep -q '"budget": 0.02' "$WORK/digits/manifest.json" && pass || fail "the recipe's budget did not reach the run"
grep -q '"recipe": "digits.json"' "$WORK/digits/manifest.json" && pass || fail "the manifest does not name the recipe"

# Bad recipes: exit 2 naming the JSON path, checked before the (missing) calibration set is read.
bad_recipe() {  # bad_recipe NAME JSON EXPECTED_MESSAGE
  printf '%s' "$2" >"$WORK/$1.json"
  expect_exit 2 "recipe $1" -- "$EMBER" compress "$S/digits-cnn.onnx" --calib "$WORK/missing.npz" --eval "$S/digits-eval.npz" --task classify -o "$WORK/bad-$1" --recipe "$WORK/$1.json"
  expect_stderr_contains "$3"
  [ -e "$WORK/bad-$1" ] && fail "recipe $1: the output folder was created" || pass
}
bad_recipe not-json '{"schema": ' "not valid JSON"
bad_recipe no-schema '{"target": {"bpw": 4}}' "required key 'schema'"
bad_recipe unknown-key '{"schema": "ember.recipe/1", "calib": {"path": "../../etc/passwd"}}' "/calib/path: is not an allowed key"
bad_recipe two-targets '{"schema": "ember.recipe/1", "target": {"size": "3MB", "bpw": 4}}' "/target: give one target"
bad_recipe bad-unit '{"schema": "ember.recipe/1", "target": {"size": "3 parsecs"}}' "/target/size"
bad_recipe bad-block '{"schema": "ember.recipe/1", "actions": [{"kind": "int4", "block": 48}]}' "/actions/0/block"
bad_recipe bad-regex '{"schema": "ember.recipe/1", "exclude": [{"name": "h.(0"}]}' "/exclude/0/name: invalid regular expression"
bad_recipe wrong-task '{"schema": "ember.recipe/1", "budget": {"metric": "bits_per_byte", "allowed": 0.01}}' "is not the metric of --task classify"
bad_recipe big-budget '{"schema": "ember.recipe/1", "budget": {"metric": "accuracy", "allowed": 5}}' "at most 1"
mkfifo "$WORK/fifo.json"
expect_exit 2 "a FIFO recipe" -- timeout 20 "$EMBER" compress "${LM[@]}" -o "$WORK/f" --recipe "$WORK/fifo.json"
expect_stderr_contains "FIFO"
head -c 2000000 /dev/zero | tr '\0' ' ' >"$WORK/huge.json"
expect_exit 2 "an oversized recipe" -- "$EMBER" compress "${LM[@]}" -o "$WORK/h" --recipe "$WORK/huge.json"
expect_stderr_contains "more than the"
expect_exit 2 "a missing recipe" -- "$EMBER" compress "${LM[@]}" -o "$WORK/m" --recipe "$WORK/none.json"
expect_stderr_contains "none.json"
# An output folder that cannot be created: exit 2, and nothing computed.
touch "$WORK/a-file"
expect_exit 2 "output under a file" -- "$EMBER" compress "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --eval "$S/digits-eval.npz" --task classify -o "$WORK/a-file/out" --recipe "$WORK/digits.json"
expect_stderr_contains "a-file"
finish
