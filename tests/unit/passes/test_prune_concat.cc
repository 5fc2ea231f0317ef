// prune-structured{channels=R} through Concat (conv_groups.h, channel_units.h): the branches of a
// channel Concat pruned jointly with its consumers (Conv, Flatten -> Gemm), a Concat feeding a
// residual Add, a DenseNet block, a Resize before a Concat, a graph input kept whole inside a
// Concat, a Concat along another axis as a join, each checked against the unpruned model with
// the removed channels zeroed; and the refusals (a channel shuffle after the Concat, a Resize
// given sizes), each with its remark.
#include <doctest/doctest.h>

#include "passes/analysis_manager.h"
#include "passes/prune/conv_pruning.h"
#include "passes/prune/prune_structured.h"
#include "tests/unit/passes/prune_channels_test_util.h"

using namespace ember;
using namespace ember::chan_test;
using namespace ember::passes;

namespace {

// x -> c1 (3, 3x3) -> Relu -> a; x -> c2 (3, 3x3) -> b; Concat(a, b) -> c; c -> c3 (2, 1x1) -> y
// c2's weights drawn with `c2_sigma` (small: its channels score lowest).
ir::Model concat_model(double c2_sigma = 0.4) {
  Rng rng(21);
  ir::Model m = image_model(2);
  conv(m, rng, "c1", "x", "h", 3, 2, 3, false);
  m.graph.nodes.push_back(node("Relu", "act", {"h"}, {"a"}));
  conv(m, rng, "c2", "x", "b", 3, 2, 3, false, 1, c2_sigma);
  m.graph.nodes.push_back(node("Concat", "cat", {"a", "b"}, {"c"}, {int_attr("axis", 1)}));
  conv(m, rng, "c3", "c", "y", 2, 6, 1, false);
  m.graph.outputs.push_back(tensor_info("y", DType::kF32, {-1, 2, kSide, kSide}));
  return m;
}

// concat_model with c0 (6, 1x1) on x added to the Concat: s = Concat(a, b) + r -> c3
ir::Model concat_residual_model() {
  Rng rng(22);
  ir::Model m = image_model(2);
  conv(m, rng, "c1", "x", "h", 3, 2, 3, false);
  m.graph.nodes.push_back(node("Relu", "act", {"h"}, {"a"}));
  conv(m, rng, "c2", "x", "b", 3, 2, 3, false);
  m.graph.nodes.push_back(node("Concat", "cat", {"a", "b"}, {"c"}, {int_attr("axis", 1)}));
  conv(m, rng, "c0", "x", "r", 6, 2, 1, false);
  m.graph.nodes.push_back(node("Add", "res", {"c", "r"}, {"s"}));
  conv(m, rng, "c3", "s", "y", 2, 6, 1, false);
  m.graph.outputs.push_back(tensor_info("y", DType::kF32, {-1, 2, kSide, kSide}));
  return m;
}

// x -> c1 (4, 3x3) -> Relu -> a; Concat(x, a) -> c [6]; Flatten -> Gemm (5) -> y: x stays whole.
ir::Model input_concat_model() {
  Rng rng(23);
  ir::Model m = image_model(2);
  conv(m, rng, "c1", "x", "h", 4, 2, 3, false);
  m.graph.nodes.push_back(node("Relu", "act", {"h"}, {"a"}));
  m.graph.nodes.push_back(node("Concat", "cat", {"x", "a"}, {"c"}, {int_attr("axis", 1)}));
  m.graph.nodes.push_back(node("Flatten", "flat", {"c"}, {"f"}, {int_attr("axis", 1)}));
  add_initializer(m, "fc.w", Tensor::from_vector<float>({5, 6 * kSide * kSide}, normals(rng, size_t(5 * 6 * kSide * kSide), 0.1)));
  m.graph.nodes.push_back(node("Gemm", "fc", {"f", "fc.w"}, {"y"}, {int_attr("transB", 1)}));
  m.graph.outputs.push_back(tensor_info("y", DType::kF32, {-1, 5}));
  return m;
}

// Concat(a, b) along axis 2 (the height): both branches carry the same 3 channels.
ir::Model height_concat_model() {
  Rng rng(24);
  ir::Model m = image_model(2);
  conv(m, rng, "c1", "x", "a", 3, 2, 3, false);
  conv(m, rng, "c2", "x", "b", 3, 2, 3, false);
  m.graph.nodes.push_back(node("Concat", "cat", {"a", "b"}, {"c"}, {int_attr("axis", 2)}));
  conv(m, rng, "c3", "c", "y", 2, 3, 1, false);
  m.graph.outputs.push_back(tensor_info("y", DType::kF32, {-1, 2, 2 * kSide, kSide}));
  return m;
}

// FPN-style fusion: x -> MaxPool 2 -> cd (3, 1x1) -> Resize x2 -> u; x -> c2 (3, 3x3) -> b;
// Concat(u, b) -> c3 (2, 1x1) -> y. With `sizes`, the Resize gives output sizes (which spell the
// channel count, and the batch of groups_of) instead of scales.
ir::Model resize_concat_model(bool sizes) {
  Rng rng(25);
  ir::Model m = image_model(2);
  m.graph.nodes.push_back(node("MaxPool", "pool", {"x"}, {"p"}, {ints_attr("kernel_shape", {2, 2}), ints_attr("strides", {2, 2})}));
  conv(m, rng, "cd", "p", "d", 3, 2, 1, false);
  if (sizes) {
    add_initializer(m, "up.sizes", Tensor::from_vector<int64_t>({4}, {2, 3, kSide, kSide}));
    m.graph.nodes.push_back(node("Resize", "up", {"d", "", "", "up.sizes"}, {"u"}));
  } else {
    add_initializer(m, "up.scales", Tensor::from_vector<float>({4}, {1.0f, 1.0f, 2.0f, 2.0f}));
    m.graph.nodes.push_back(node("Resize", "up", {"d", "", "up.scales"}, {"u"}));
  }
  conv(m, rng, "c2", "x", "b", 3, 2, 3, false);
  m.graph.nodes.push_back(node("Concat", "cat", {"u", "b"}, {"c"}, {int_attr("axis", 1)}));
  conv(m, rng, "c3", "c", "y", 2, 6, 1, false);
  m.graph.outputs.push_back(tensor_info("y", DType::kF32, {-1, 2, kSide, kSide}));
  return m;
}

// DenseNet's dense block: every layer reads the Concat of all before it.
// x -> c0 (3) -> Relu -> x0; x0 -> c1 (2) -> Relu -> x1; k1 = Concat(x0, x1);
// k1 -> c2 (2) -> Relu -> x2; k2 = Concat(k1, x2) -> c3 (2, 1x1) -> y
ir::Model dense_block_model() {
  Rng rng(26);
  ir::Model m = image_model(2);
  conv(m, rng, "c0", "x", "h0", 3, 2, 3, false);
  m.graph.nodes.push_back(node("Relu", "a0", {"h0"}, {"x0"}));
  conv(m, rng, "c1", "x0", "h1", 2, 3, 3, false);
  m.graph.nodes.push_back(node("Relu", "a1", {"h1"}, {"x1"}));
  m.graph.nodes.push_back(node("Concat", "k1", {"x0", "x1"}, {"k1"}, {int_attr("axis", 1)}));
  conv(m, rng, "c2", "k1", "h2", 2, 5, 3, false);
  m.graph.nodes.push_back(node("Relu", "a2", {"h2"}, {"x2"}));
  m.graph.nodes.push_back(node("Concat", "k2", {"k1", "x2"}, {"k2"}, {int_attr("axis", 1)}));
  conv(m, rng, "c3", "k2", "y", 2, 7, 1, false);
  m.graph.outputs.push_back(tensor_info("y", DType::kF32, {-1, 2, kSide, kSide}));
  return m;
}

// `original` with each producer's rows that `p` no longer has zeroed (rows matched by value).
ir::Model zero_removed_rows(const ir::Model& original, const ir::Model& p, const std::vector<std::string>& producers) {
  ir::Model ref = original;
  for (const auto& name : producers) {
    std::vector<float> w = floats_of(*original.graph.find_initializer(name));
    const std::vector<float> kept = floats_of(*p.graph.find_initializer(name));
    const int64_t rows = shape_of(original, name)[0], per = int64_t(w.size()) / rows;
    std::vector<float> out = w;
    for (int64_t r = 0; r < rows; ++r) {
      bool found = false;
      for (size_t j = 0; (j + 1) * size_t(per) <= kept.size() && !found; ++j)
        found = std::equal(w.begin() + r * per, w.begin() + (r + 1) * per, kept.begin() + long(j) * per);
      if (!found) std::fill(out.begin() + r * per, out.begin() + (r + 1) * per, 0.0f);
    }
    ref.graph.set_initializer(name, Tensor::from_vector<float>(shape_of(original, name), out));
  }
  return ref;
}

int64_t rows_of(const ir::Model& m, const std::string& name) { return shape_of(m, name)[0]; }

}  // namespace

TEST_CASE("concat groups: two conv branches of a Concat are pruned jointly with the Conv that reads it") {
  const ir::Model m = concat_model();
  const auto found = groups_of(m, 2);
  REQUIRE(found.groups.size() == 1);
  const auto& g = found.groups[0];
  CHECK(g.name == "c1+c2");
  CHECK(g.channels == 6);
  CHECK(g.consumers.size() == 1);
  CHECK(prune::units_of(g, "c") == std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  CHECK(g.remark.find("Concat 'cat' joins 2 inputs") != std::string::npos);
  const ir::Model p = pruned(m, 2, "channels=0.5,score=magnitude,recovery=none");
  const int64_t kept = rows_of(p, "c1.w") + rows_of(p, "c2.w");
  CHECK((kept == 3 || kept == 4));  // 4: a branch that would lose all its channels keeps one
  CHECK(rows_of(p, "c1.w") >= 1);
  CHECK(rows_of(p, "c2.w") >= 1);
  CHECK(shape_of(p, "c3.w") == Shape{2, kept, 1, 1});
  CHECK(output_error(p, zero_removed_rows(m, p, {"c1.w", "c2.w"}), 2) < 1e-5);
  // The refit reads the Concat's columns: it moves the output back towards the original.
  const ir::Model lsq = pruned(m, 2, "channels=0.5,score=magnitude,recovery=lsq");
  CHECK(output_error(lsq, m, 2) < output_error(p, m, 2));
  for (const char* score : {"taylor", "fluctuation", "wanda"}) {
    INFO(score);
    const ir::Model s = pruned(m, 2, std::string("channels=0.5,recovery=bias,score=") + score);
    CHECK(rows_of(s, "c1.w") >= 1);
    CHECK(rows_of(s, "c2.w") >= 1);
    CHECK(shape_of(s, "c3.w")[1] == rows_of(s, "c1.w") + rows_of(s, "c2.w"));
  }
}

TEST_CASE("concat groups: the producers' floor comes before the rounding to a multiple, and the threshold is the one used") {
  // c2's channels score lowest: channels=0.5 removes all three, channels=0.67 those and c1's
  // weakest. The floor gives c2 its best channel back (min-keep 0.1: one row).
  const ir::Model m = concat_model(0.01);
  ScratchDir dir("prune_concat_floor");
  auto calib = image_calibration(dir, m, 2);
  // magnitude: sqrt(||producer row||^2 * ||c3's column||^2) of Concat channel c (c1's rows, then c2's).
  const std::vector<float> w1 = floats_of(*m.graph.find_initializer("c1.w")), w2 = floats_of(*m.graph.find_initializer("c2.w"));
  const std::vector<float> w3 = floats_of(*m.graph.find_initializer("c3.w"));
  auto row = [&](int64_t c) { return std::vector<float>((c < 3 ? w1 : w2).begin() + c % 3 * 18, (c < 3 ? w1 : w2).begin() + c % 3 * 18 + 18); };
  auto score = [&](int64_t c) {
    double rows = 0, cols = 0;
    for (float v : row(c)) rows += double(v) * v;
    for (int64_t o = 0; o < 2; ++o) cols += double(w3[size_t(o * 6 + c)]) * w3[size_t(o * 6 + c)];
    return std::sqrt(rows * cols);
  };
  for (const auto& [ratio, multiple] : std::vector<std::pair<double, int64_t>>{{0.5, 1}, {0.5, 3}, {0.67, 2}, {0.67, 4}}) {
    INFO("channels=" << ratio << " multiple=" << multiple);
    ir::Model p = m;
    passes::AnalysisManager am(&calib);
    passes::Remarks remarks;
    passes::PassContext ctx(am, remarks);
    prune::ChannelPruneOptions o;
    o.ratio = ratio, o.score = prune::NeuronScore::kMagnitude, o.recovery = prune::Recovery::kNone, o.multiple = multiple;
    auto report = prune::prune_conv_channels(m, p, ctx, o);
    REQUIRE_MESSAGE(report.ok(), report.status().message());
    REQUIRE(report->groups.size() == 1);
    const int64_t kept = rows_of(p, "c1.w") + rows_of(p, "c2.w");
    CHECK(kept == report->groups[0].channels_after);
    // 0.67 and 2: 2 kept, 3 after the floor (the old order), 4. 0.5 and 3: 4 after the floor;
    // down to 3 would take c2's last row, so up to 6.
    CHECK(kept % multiple == 0);
    CHECK(rows_of(p, "c2.w") >= 1);
    const std::vector<float> k1 = floats_of(*p.graph.find_initializer("c1.w")), k2 = floats_of(*p.graph.find_initializer("c2.w"));
    double highest_removed = 0;
    for (int64_t c = 0; c < 6; ++c) {
      const std::vector<float>& kept_rows = c < 3 ? k1 : k2;
      const std::vector<float> r = row(c);
      bool found = false;
      for (auto at = kept_rows.begin(); at != kept_rows.end() && !found; at += 18) found = std::equal(r.begin(), r.end(), at);
      if (!found) highest_removed = std::max(highest_removed, score(c));
    }
    CHECK(report->groups[0].threshold == doctest::Approx(highest_removed).epsilon(1e-9));  // 0.5: not c2's best, given back
  }
}

TEST_CASE("concat groups: a Concat added to another Conv's output ties channel o_i + c across the Add") {
  const ir::Model m = concat_residual_model();
  const auto found = groups_of(m, 2);
  REQUIRE(found.groups.size() == 1);
  CHECK(found.groups[0].name == "c1+c2+c0");
  CHECK(found.groups[0].channels == 6);
  const ir::Model p = pruned(m, 2, "channels=0.5,score=magnitude,recovery=none");
  const int64_t kept = rows_of(p, "c0.w");
  CHECK((kept == 3 || kept == 4));
  CHECK(rows_of(p, "c1.w") + rows_of(p, "c2.w") == kept);
  CHECK(shape_of(p, "c3.w") == Shape{2, kept, 1, 1});
  // c0's kept rows are the Concat's kept positions: zeroing the removed ones reproduces p.
  CHECK(output_error(p, zero_removed_rows(m, p, {"c1.w", "c2.w", "c0.w"}), 2) < 1e-5);
}

TEST_CASE("concat groups: a graph input in the Concat keeps its channels, the Conv branch is pruned, Gemm rows follow") {
  const ir::Model m = input_concat_model();
  const auto found = groups_of(m, 2);
  REQUIRE(found.groups.size() == 1);
  const auto& g = found.groups[0];
  CHECK(g.name == "c1");
  CHECK(g.channels == 4);
  CHECK(prune::units_of(g, "c") == std::vector<int64_t>{-1, -1, 0, 1, 2, 3});
  CHECK(g.remark.find("'x' (a graph input) keeps its 2 channels") != std::string::npos);
  REQUIRE(g.consumers.size() == 1);
  CHECK(g.consumers[0].linear);
  const ir::Model p = pruned(m, 2, "channels=0.5,score=magnitude,recovery=none");
  CHECK(rows_of(p, "c1.w") == 2);
  CHECK(shape_of(p, "fc.w") == Shape{5, (2 + 2) * kSide * kSide});
  CHECK(output_error(p, zero_removed_rows(m, p, {"c1.w"}), 2) < 1e-5);
  const ir::Model lsq = pruned(m, 2, "channels=0.5,score=magnitude,recovery=lsq");
  CHECK(output_error(lsq, m, 2) < output_error(p, m, 2));
}

TEST_CASE("concat groups: a Resize of the spatial axes carries the channels into the Concat, one with sizes is kept whole") {
  const ir::Model m = resize_concat_model(false);
  const auto found = groups_of(m, 2);
  REQUIRE(found.groups.size() == 1);
  CHECK(found.groups[0].name == "cd+c2");
  const ir::Model p = pruned(m, 2, "channels=0.34,score=magnitude,ranking=uniform,recovery=none");
  CHECK(rows_of(p, "cd.w") + rows_of(p, "c2.w") == 4);
  CHECK(output_error(p, zero_removed_rows(m, p, {"cd.w", "c2.w"}), 2) < 1e-5);
  // With sizes [2, 3, H, W] the Resize would need its sizes rewritten: cd is left alone and the
  // Concat keeps the Resize's 3 channels, while c2's branch is still pruned.
  const ir::Model s = resize_concat_model(true);
  const auto kept = groups_of(s, 2);
  REQUIRE(kept.groups.size() == 1);
  CHECK(kept.groups[0].name == "c2");
  CHECK(kept.groups[0].remark.find("'u' (from Resize node 'up') keeps its 3 channels") != std::string::npos);
  REQUIRE(kept.skipped.size() == 2);  // cd, and c3 (its output is the graph's)
  CHECK(kept.skipped[0].layer == "cd");
  CHECK(kept.skipped[0].reason.find("Resize node 'up'") != std::string::npos);
  CHECK(prune::units_of(kept.groups[0], "c") == std::vector<int64_t>{-1, -1, -1, 0, 1, 2});
}

TEST_CASE("concat groups: a DenseNet block (nested Concats, a layer both reading and writing the group) is one group") {
  const ir::Model m = dense_block_model();
  const auto found = groups_of(m, 2);
  REQUIRE(found.groups.size() == 1);
  const auto& g = found.groups[0];
  CHECK(g.name == "c0+c1+c2");
  CHECK(g.channels == 7);
  CHECK(g.consumers.size() == 3);  // c1 reads x0, c2 reads k1, c3 reads k2
  CHECK(prune::units_of(g, "k2") == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6});
  CHECK(prune::units_of(g, "x2") == std::vector<int64_t>{5, 6});
  const ir::Model p = pruned(m, 2, "channels=0.4,score=magnitude,recovery=none");
  const int64_t k0 = rows_of(p, "c0.w"), k1 = rows_of(p, "c1.w"), k2 = rows_of(p, "c2.w");
  CHECK(k0 + k1 + k2 < 7);
  CHECK(shape_of(p, "c1.w")[1] == k0);
  CHECK(shape_of(p, "c2.w")[1] == k0 + k1);
  CHECK(shape_of(p, "c3.w")[1] == k0 + k1 + k2);
  CHECK(output_error(p, zero_removed_rows(m, p, {"c0.w", "c1.w", "c2.w"}), 2) < 1e-5);
  const ir::Model lsq = pruned(m, 2, "channels=0.4,score=magnitude,recovery=lsq");
  CHECK(output_error(lsq, m, 2) < output_error(p, m, 2));
}

TEST_CASE("concat groups: a Concat along the height is a join, one mask for both branches") {
  const ir::Model m = height_concat_model();
  const auto found = groups_of(m, 2);
  REQUIRE(found.groups.size() == 1);
  CHECK(found.groups[0].name == "c1+c2");
  CHECK(found.groups[0].channels == 3);
  CHECK(found.groups[0].remark.empty());
  const ir::Model p = pruned(m, 2, "channels=0.34,score=magnitude,recovery=none");
  CHECK(rows_of(p, "c1.w") == 2);
  CHECK(rows_of(p, "c2.w") == 2);
  CHECK(output_error(p, zero_removed_rows(m, p, {"c1.w", "c2.w"}), 2) < 1e-5);
}

TEST_CASE("concat groups: a channel shuffle after the Concat leaves the branches alone, with the reason") {
  ir::Model m = concat_model();
  // c -> Reshape [N, 2, 3, H, W] -> Transpose -> Reshape [N, 6, H, W] -> c3: channels interleaved.
  for (auto& n : m.graph.nodes)
    if (n.name == "c3") n.inputs[0] = "u";
  add_initializer(m, "split", Tensor::from_vector<int64_t>({5}, {0, 2, 3, kSide, kSide}));
  add_initializer(m, "merge", Tensor::from_vector<int64_t>({4}, {0, 6, kSide, kSide}));
  m.graph.nodes.push_back(node("Reshape", "shuffle1", {"c", "split"}, {"g"}));
  m.graph.nodes.push_back(node("Transpose", "shuffle2", {"g"}, {"t"}, {ints_attr("perm", {0, 2, 1, 3, 4})}));
  m.graph.nodes.push_back(node("Reshape", "shuffle3", {"t", "merge"}, {"u"}));
  // Keep the nodes in topological order: c3 last.
  std::stable_partition(m.graph.nodes.begin(), m.graph.nodes.end(), [](const ir::Node& n) { return n.name != "c3"; });
  const auto found = groups_of(m, 2);
  CHECK(found.groups.empty());
  REQUIRE(!found.skipped.empty());
  CHECK(found.skipped[0].layer == "c1+c2");
  CHECK(found.skipped[0].reason.find("Reshape node 'shuffle1'") != std::string::npos);
  CHECK(found.skipped[0].reason.find("(the channels are tied: Concat 'cat' joins 2 inputs") != std::string::npos);
  ScratchDir dir("prune_concat_refuse");
  auto calib = image_calibration(dir, m, 2);
  const Status s = run_pipeline(m, "prune-structured{channels=0.5,score=magnitude}", &calib);
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(s.message().find("shuffle1") != std::string::npos);
}
