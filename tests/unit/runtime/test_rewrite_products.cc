// Load-time rewrites of integer products that the float fusions enable (rewrite_float.h,
// rewrite_column_split.h): a GELU in the INT8 GEMM's epilogue, and a product cut up by Reshape
// and Split writing its parts directly; each checked against the same graph without them.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/interpreter.h"
#include "tests/unit/runtime/rewrite_test_util.h"

using namespace ember;
using namespace ember::quant_test;
using namespace ember::rewrite_test;

TEST_CASE("rewrite-integer: a GELU after an Int8MatMul (directly or through a Reshape) runs in its epilogue") {
  Rng rng(12);
  const int64_t K = 48, N = 70;
  for (bool via_reshape : {false, true}) {
    CAPTURE(via_reshape);
    Builder b;
    b.input("x", {9, K});
    b.init("wq", random_ints<int8_t>(rng, {K, N}, -127, 127));
    b.init("w_scale", random_floats(rng, {N}, 0.002f, 0.02f));
    b.init("sqrt2", Tensor::scalar<float>(1.41421353816986083984375f));
    b.init("one", Tensor::scalar<float>(1.0f));
    b.init("half", Tensor::scalar<float>(0.5f));
    b.init("shape", Tensor::from_vector<int64_t>({3}, {3, 3, N}));
    b.node("DequantizeLinear", {"wq", "w_scale"}, {"w"}, {int_attr("axis", 1)});
    b.node("MatMul", {"x", "w"}, {via_reshape ? "p" : "h"});
    if (via_reshape) b.node("Reshape", {"p", "shape"}, {"h"});
    b.node("Div", {"h", "sqrt2"}, {"d"});
    b.node("Erf", {"d"}, {"e"});
    b.node("Add", {"e", "one"}, {"a"});
    b.node("Mul", {"h", "a"}, {"m"});
    b.node("Mul", {"m", "half"}, {"y"});
    b.output("y");
    const std::map<std::string, Tensor> feeds = {{"x", random_floats(rng, {9, K}, -1, 1)}};
    runtime::InterpreterOptions o;
    o.fuse_float = true;
    auto fused = runtime::Interpreter::create(b.model, o);
    REQUIRE(fused.ok());
    const auto& nodes = (*fused)->model().graph.nodes;
    REQUIRE(nodes.size() == (via_reshape ? 2u : 1u));
    CHECK(nodes[0].attr_string("activation", "") == "gelu");
    if (via_reshape) CHECK(nodes[1].op_type == "Reshape");
    auto ref = make(b.model, false);
    const std::vector<float> want = run1(*ref, feeds), got = run1(**fused, feeds);
    double scale = 0;
    for (float v : want) scale = std::max(scale, double(std::fabs(v)));
    for (size_t i = 0; i < want.size(); ++i) REQUIRE(std::fabs(got[i] - want[i]) <= kActQuantRelTol * scale);
    // Without the float fusions the same graph keeps the GELU nodes after a plain Int8MatMul.
    auto plain = make(b.model, true);
    CHECK(op_counts(plain->model()).at("Int8MatMul") == 1);
    CHECK(op_counts(plain->model()).at("Erf") == 1);
  }
}

TEST_CASE("rewrite-integer: an Int8MatMul cut up by Reshape and Split writes its parts directly") {
  Rng rng(31);
  const int64_t M = 7, K = 40;
  // 3 x 48 columns: whole register tiles per part on every ISA; 3 x 10: parts through a copy.
  for (int64_t N : {144, 30}) {
    CAPTURE(N);
    Builder b;
    b.input("x", {M, K});
    b.init("w", random_ints<int8_t>(rng, {K, N}, -127, 127));
    b.init("w_zp", Tensor::scalar<int8_t>(0));
    b.init("w_scale", random_floats(rng, {N}, 0.002f, 0.02f));
    b.init("bias", random_floats(rng, {N}, -1, 1));
    b.init("shape", Tensor::from_vector<int64_t>({3}, {1, M, N}));
    b.dynamic_int8_product("x", "y");
    b.node("Reshape", {"y", "shape"}, {"view"});
    b.node("Split", {"view"}, {"q", "k", "v"}, {int_attr("axis", -1), int_attr("num_outputs", 3)});
    for (const char* out : {"q", "k", "v"}) b.output(out);
    const std::map<std::string, Tensor> feeds = {{"x", random_floats(rng, {M, K}, -2, 2)}};
    for (auto level : {runtime::IsaLevel::kScalar, runtime::IsaLevel::kAvx2, runtime::IsaLevel::kAvxVnni, runtime::IsaLevel::kAvx512}) {
      if (!runtime::isa_supported(level)) continue;
      IsaScope isa(level);
      CAPTURE(runtime::isa_name(level));
      runtime::InterpreterOptions o;
      o.fuse_float = true;
      auto fused = runtime::Interpreter::create(b.model, o);
      REQUIRE(fused.ok());
      const auto counts = op_counts((*fused)->model());
      CHECK(counts.count("Split") == 0);
      CHECK(counts.at("Reshape") == 3);
      auto plain = make(b.model, true);  // the same integer product, then Reshape and Split
      auto want = plain->run(feeds);
      auto got = (*fused)->run(feeds);
      REQUIRE(want.ok());
      REQUIRE(got.ok());
      for (size_t i = 0; i < 3; ++i) {
        REQUIRE((*got)[i].shape() == Shape{1, M, N / 3});
        CHECK(floats_of((*got)[i]) == floats_of((*want)[i]));  // the same numbers, bit for bit
      }
    }
  }
}
