// Small attention blocks built in code for the head-pruning tests: x [B, S, 8] -> 4 heads of
// 2 channels -> output projection [8, 6]. `fused`: one QKV weight [8, 24] and a Split with
// sizes (GPT-2's c_attn); otherwise three projections with bias Adds and head reshapes whose
// shapes are Concats of a run-time piece and constants (BERT's torchscript export).
#pragma once
#include "passes/prune/head_pruning.h"
#include "tests/unit/passes/activation_test_util.h"

namespace ember::head_test {

using namespace ember::act_test;
using test::ints_attr;
using test::int_attr;
using test::values_of;

constexpr int64_t kSeq = 5, kEmbed = 8, kHeads = 4, kDim = 2, kOut = 6;

inline void add_attention_core(ir::Model& m, const std::string& q, const std::string& k, const std::string& v,
                               const std::string& split_shape, const std::string& merge_shape) {
  auto& n = m.graph.nodes;
  n.push_back(node("Reshape", "q_heads", {q, split_shape}, {"q4"}));
  n.push_back(node("Reshape", "k_heads", {k, split_shape}, {"k4"}));
  n.push_back(node("Reshape", "v_heads", {v, split_shape}, {"v4"}));
  n.push_back(node("Transpose", "q_t", {"q4"}, {"qt"}, {ints_attr("perm", {0, 2, 1, 3})}));
  n.push_back(node("Transpose", "k_t", {"k4"}, {"kt"}, {ints_attr("perm", {0, 2, 3, 1})}));
  n.push_back(node("Transpose", "v_t", {"v4"}, {"vt"}, {ints_attr("perm", {0, 2, 1, 3})}));
  n.push_back(node("MatMul", "scores", {"qt", "kt"}, {"s"}));
  n.push_back(node("Mul", "scale", {"s", "scale_c"}, {"ss"}));
  n.push_back(node("Add", "mask", {"ss", "mask_c"}, {"sm"}));
  n.push_back(node("Softmax", "softmax", {"sm"}, {"p"}, {int_attr("axis", -1)}));
  n.push_back(node("MatMul", "context", {"p", "vt"}, {"c"}));
  n.push_back(node("Transpose", "c_t", {"c"}, {"ct"}, {ints_attr("perm", {0, 2, 1, 3})}));
  n.push_back(node("Reshape", "merge", {"ct", merge_shape}, {"merged"}));
  n.push_back(node("MatMul", "out_proj", {"merged", "Wo"}, {"o"}));
  n.push_back(node("Add", "out_bias", {"o", "bo"}, {"y"}));
  Rng rng(5);
  add_initializer(m, "Wo", random_matrix(rng, kEmbed, kOut, 0.4));
  add_initializer(m, "bo", Tensor::from_vector<float>({kOut}, normals(rng, kOut, 0.2)));
  add_initializer(m, "scale_c", Tensor::from_vector<float>({}, {0.7f}));
  std::vector<float> mask(size_t(kSeq * kSeq), 0.0f);
  for (int64_t i = 0; i < kSeq; ++i)
    for (int64_t j = i + 1; j < kSeq; ++j) mask[size_t(i * kSeq + j)] = -1e4f;
  add_initializer(m, "mask_c", Tensor::from_vector<float>({1, 1, kSeq, kSeq}, mask));
  m.graph.outputs.push_back(tensor_info("y", DType::kF32, {-1, kSeq, kOut}));
}

// x -> MatMul(Wqkv [8, 24]) -> Add(bqkv) -> Split(sizes [8, 8, 8]) -> heads -> Wo
inline ir::Model fused_attention_model() {
  Rng rng(3);
  ir::Model m = empty_model(17);
  m.graph.inputs.push_back(tensor_info("x", DType::kF32, {-1, kSeq, kEmbed}));
  add_initializer(m, "Wqkv", random_matrix(rng, kEmbed, 3 * kEmbed, 0.5));
  add_initializer(m, "bqkv", Tensor::from_vector<float>({3 * kEmbed}, normals(rng, 3 * kEmbed, 0.2)));
  add_initializer(m, "split_sizes", Tensor::from_vector<int64_t>({3}, {kEmbed, kEmbed, kEmbed}));
  add_initializer(m, "head_shape", Tensor::from_vector<int64_t>({4}, {0, 0, kHeads, kDim}));
  add_initializer(m, "merge_shape", Tensor::from_vector<int64_t>({3}, {0, 0, kEmbed}));
  m.graph.nodes.push_back(node("MatMul", "qkv", {"x", "Wqkv"}, {"qkv0"}));
  m.graph.nodes.push_back(node("Add", "qkv_bias", {"qkv0", "bqkv"}, {"qkv1"}));
  m.graph.nodes.push_back(node("Split", "split", {"qkv1", "split_sizes"}, {"q", "k", "v"}, {int_attr("axis", 2)}));
  add_attention_core(m, "q", "k", "v", "head_shape", "merge_shape");
  return m;
}

// The fused block with three Slices of the last axis instead of the Split (the last one open-ended).
inline ir::Model fused_slice_attention_model() {
  ir::Model m = fused_attention_model();
  auto& n = m.graph.nodes;
  n.erase(n.begin() + 2);  // the Split
  const std::vector<std::pair<int64_t, int64_t>> ranges = {{0, kEmbed}, {kEmbed, 2 * kEmbed}, {2 * kEmbed, INT64_MAX}};
  const char* outs[] = {"q", "k", "v"};
  add_initializer(m, "axis_c", Tensor::from_vector<int64_t>({1}, {2}));
  for (size_t i = 0; i < 3; ++i) {
    const std::string s = outs[i];
    add_initializer(m, s + "_start", Tensor::from_vector<int64_t>({1}, {ranges[i].first}));
    add_initializer(m, s + "_end", Tensor::from_vector<int64_t>({1}, {ranges[i].second}));
    n.insert(n.begin() + 2 + long(i), node("Slice", s + "_slice", {"qkv1", s + "_start", s + "_end", "axis_c"}, {s}));
  }
  m.graph.remove_initializer("split_sizes");
  return m;
}

// x -> three MatMul + bias Add projections; head shapes Concat(Slice(Shape(x)), [4], [2]).
inline ir::Model separate_attention_model() {
  Rng rng(4);
  ir::Model m = empty_model(17);
  m.graph.inputs.push_back(tensor_info("x", DType::kF32, {-1, kSeq, kEmbed}));
  auto& n = m.graph.nodes;
  for (const char* p : {"q", "k", "v"}) {
    const std::string s(p);
    add_initializer(m, "W" + s, random_matrix(rng, kEmbed, kEmbed, 0.5));
    add_initializer(m, "b" + s, Tensor::from_vector<float>({kEmbed}, normals(rng, kEmbed, 0.2)));
    n.push_back(node("MatMul", s + "_proj", {"x", "W" + s}, {s + "0"}));
    n.push_back(node("Add", s + "_bias", {"b" + s, s + "0"}, {s}));
  }
  add_initializer(m, "zero", Tensor::from_vector<int64_t>({1}, {0}));
  add_initializer(m, "two", Tensor::from_vector<int64_t>({1}, {2}));
  add_initializer(m, "heads_c", Tensor::from_vector<int64_t>({1}, {kHeads}));
  add_initializer(m, "dim_c", Tensor::from_vector<int64_t>({1}, {kDim}));
  add_initializer(m, "all_c", Tensor::from_vector<int64_t>({1}, {kEmbed}));
  n.push_back(node("Shape", "shape", {"x"}, {"xs"}));
  n.push_back(node("Slice", "lead", {"xs", "zero", "two"}, {"bs"}));
  n.push_back(node("Concat", "split_concat", {"bs", "heads_c", "dim_c"}, {"split_shape"}, {int_attr("axis", 0)}));
  n.push_back(node("Concat", "merge_concat", {"bs", "all_c"}, {"merge_shape"}, {int_attr("axis", 0)}));
  add_attention_core(m, "q", "k", "v", "split_shape", "merge_shape");
  return m;
}

inline Tensor attention_input(uint64_t seed, int64_t batch) {
  Rng rng(seed);
  return Tensor::from_vector<float>({batch, kSeq, kEmbed}, normals(rng, static_cast<size_t>(batch * kSeq * kEmbed), 1.0));
}

inline calibration::CalibrationSet attention_calibration(const ScratchDir& dir, const ir::Model& model) {
  const std::string path = dir.file("calib.npy");
  REQUIRE(formats::write_npy(path, attention_input(99, 64)).ok());
  calibration::CalibrationOptions o;
  o.batch = 8;
  auto set = calibration::CalibrationSet::open(path, model.graph.feed_inputs(), o);
  REQUIRE(set.ok());
  return std::move(*set);
}

// Relative error of `original` after `pipeline` (calibrated on attention_calibration) on a fresh
// input; the edited model goes to `out` when given.
inline double pipeline_error(const ir::Model& original, const std::string& pipeline, ir::Model* out = nullptr) {
  ScratchDir dir("heads_err");
  ir::Model m = original;
  auto calib = attention_calibration(dir, m);
  REQUIRE(run_pipeline(m, pipeline, &calib).ok());
  const Tensor x = attention_input(7, 16);
  if (out) *out = m;
  return relative_error(run(m, {{"x", x}})[0], run(original, {{"x", x}})[0]);
}

// The attention blocks of `m` as head pruning finds them (shapes from the first batch of `calib`).
inline Result<passes::prune::HeadGroups> head_groups_of(const ir::Model& m, calibration::CalibrationSet& calib) {
  passes::AnalysisManager analyses(&calib);
  passes::Remarks remarks;
  passes::PassContext ctx(analyses, remarks);
  return passes::prune::find_model_head_groups(m, ctx);
}

// The one attention block of the model `make` builds.
inline passes::prune::HeadGroup the_head_group(ir::Model (*make)()) {
  ScratchDir dir("heads_find");
  ir::Model m = make();
  auto calib = attention_calibration(dir, m);
  auto found = head_groups_of(m, calib);
  REQUIRE(found.ok());
  REQUIRE(found->groups.size() == 1);
  return found->groups[0];
}

}  // namespace ember::head_test
