// Load-time integer rewrites (runtime/optimizer/rewrite_integer.h): small graphs built in code for each
// pattern, checked for structure (which ember.fused ops replaced which nodes) and for
// numerical equivalence with the same model run on the reference kernels
// (InterpreterOptions::integer_kernels = false), on every ISA path; then the peer models.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "formats/onnx_load.h"
#include "runtime/cpu.h"
#include "runtime/interpreter.h"
#include "runtime/optimizer/rewrite_integer.h"
#include "tests/unit/runtime/rewrite_test_util.h"

using namespace ember;
using namespace ember::quant_test;
using namespace ember::rewrite_test;

TEST_CASE("rewrite-integer: onnxruntime's dynamic INT8 pattern becomes one Int8MatMul with the same integers") {
  Rng rng(1);
  const int64_t K = 37, N = 21;
  Builder b;
  b.input("x", {3, 5, K});
  b.init("w", random_ints<int8_t>(rng, {K, N}, -127, 127));
  b.init("w_zp", Tensor::scalar<int8_t>(0));
  b.init("w_scale", Tensor::scalar<float>(0.02f));
  b.init("bias", random_floats(rng, {N}, -1, 1));
  b.dynamic_int8_product("x", "y");
  b.output("y");
  const std::map<std::string, Tensor> feeds = {{"x", random_floats(rng, {3, 5, K}, -2, 3)}};

  auto interp = make(b.model, true);
  const auto counts = op_counts(interp->model());
  CHECK(counts.at("Int8MatMul") == 1);
  CHECK(interp->model().graph.nodes.size() == 1);  // DQL, both Muls, Cast and Add are gone
  check_equivalent(b.model, feeds, kSameIntegersRelTol);
}

TEST_CASE("rewrite-integer: Ember's per-row symmetric dynamic INT8 chain becomes one Int8MatMul with the same integers") {
  Rng rng(11);
  const int64_t K = 45, N = 23;
  for (bool opset18_axes : {true, false}) {
    Builder b;
    b.input("x", {2, 3, K});
    b.init("w", random_ints<uint8_t>(rng, {K, N}, 1, 255));
    b.init("mid", Tensor::scalar<uint8_t>(128));
    b.init("midf", Tensor::scalar<float>(128.0f));
    b.init("levels", Tensor::scalar<float>(127.0f));
    b.init("tiny", Tensor::scalar<float>(1e-30f));
    b.init("w_scale", random_floats(rng, {N}, 0.001f, 0.01f));
    b.init("bias", random_floats(rng, {N}, -1, 1));
    b.node("Abs", {"x"}, {"abs"});
    if (opset18_axes) {
      b.init("axes", Tensor::from_vector<int64_t>({1}, {-1}));
      b.node("ReduceMax", {"abs", "axes"}, {"amax"}, {int_attr("keepdims", 1)});
    } else {
      ir::Attribute axes = int_attr("axes", 0);
      axes.kind = ir::AttrKind::kInts;
      axes.ints = {-1};
      b.model.opset_imports[0].version = 17;
      b.node("ReduceMax", {"abs"}, {"amax"}, {axes});
    }
    b.node("Div", {"amax", "levels"}, {"raw"});
    b.node("Max", {"raw", "tiny"}, {"s"});
    b.node("Div", {"x", "s"}, {"scaled"});
    b.node("Round", {"scaled"}, {"rounded"});
    b.node("Add", {"rounded", "midf"}, {"shifted"});
    b.node("Cast", {"shifted"}, {"xq"}, {int_attr("to", 2)});
    b.node("MatMulInteger", {"xq", "w", "mid", "mid"}, {"acc"});
    b.node("Cast", {"acc"}, {"accf"}, {int_attr("to", 1)});
    b.node("Mul", {"accf", "s"}, {"y0"});
    b.node("Mul", {"y0", "w_scale"}, {"y1"});
    b.node("Add", {"y1", "bias"}, {"y"});
    b.output("y");
    auto interp = make(b.model, true);
    const auto counts = op_counts(interp->model());
    CHECK(counts.at("Int8MatMul") == 1);
    CHECK(interp->model().graph.nodes.size() == 1);  // the whole chain is gone
    CHECK(interp->model().graph.nodes[0].attr_string("act", "") == "row_symmetric");
    check_equivalent(b.model, {{"x", random_floats(rng, {2, 3, K}, -2, 3)}}, kSameIntegersRelTol);
  }
}

TEST_CASE("rewrite-integer: products of one dynamically quantized X share its quantization in an Int8MatMulGroup") {
  Rng rng(13);
  const int64_t K = 40;
  const std::vector<int64_t> widths = {24, 17, 33};
  Builder b;
  b.input("x", {2, 7, K});
  b.node("DynamicQuantizeLinear", {"x"}, {"xq", "xs", "xzp"});
  for (size_t j = 0; j < widths.size(); ++j) {
    const std::string t = std::to_string(j);
    b.init("w" + t, random_ints<int8_t>(rng, {K, widths[j]}, -127, 127));
    b.init("w_zp" + t, Tensor::scalar<int8_t>(int8_t(j)));  // a nonzero zero point needs row sums
    b.init("w_scale" + t, Tensor::scalar<float>(0.01f * float(j + 1)));
    b.init("bias" + t, random_floats(rng, {widths[j]}, -1, 1));
    b.node("Mul", {"xs", "w_scale" + t}, {"s" + t});
    b.node("MatMulInteger", {"xq", "w" + t, "xzp", "w_zp" + t}, {"acc" + t});
    b.node("Cast", {"acc" + t}, {"accf" + t}, {int_attr("to", 1)});
    b.node("Mul", {"accf" + t, "s" + t}, {"y0" + t});
    b.node("Add", {"bias" + t, "y0" + t}, {"y" + t});
  }
  b.node("Concat", {"y0", "y1", "y2"}, {"y"}, {int_attr("axis", -1)});
  b.output("y");
  auto interp = make(b.model, true);
  const auto counts = op_counts(interp->model());
  CHECK(counts.at("Int8MatMulGroup") == 1);
  CHECK(counts.count("Int8MatMul") == 0);
  CHECK(interp->model().graph.nodes.size() == 2);  // the group and the Concat
  check_equivalent(b.model, {{"x", random_floats(rng, {2, 7, K}, -2, 3)}}, kSameIntegersRelTol);
}

TEST_CASE("rewrite-integer: a pattern whose intermediate is read elsewhere keeps its nodes") {
  Rng rng(2);
  const int64_t K = 16, N = 8;
  Builder b;
  b.input("x", {4, K});
  b.init("w", random_ints<uint8_t>(rng, {K, N}, 0, 255));
  b.init("w_zp", Tensor::scalar<uint8_t>(128));
  b.init("w_scale", Tensor::scalar<float>(0.01f));
  b.node("DynamicQuantizeLinear", {"x"}, {"xq", "xs", "xzp"});
  b.node("Mul", {"xs", "w_scale"}, {"s"});
  b.node("MatMulInteger", {"xq", "w", "xzp", "w_zp"}, {"acc"});
  b.node("Cast", {"acc"}, {"accf"}, {int_attr("to", 1)});
  b.node("Mul", {"accf", "s"}, {"y"});
  b.output("y");
  b.output("accf");  // an intermediate the caller wants: the float chain must stay
  auto interp = make(b.model, true);
  const auto counts = op_counts(interp->model());
  CHECK(counts.count("Int8MatMul") == 0);
  CHECK(counts.at("MatMulIntegerPacked") == 1);  // the integer product alone still runs packed
  CHECK(counts.at("Cast") == 1);
  check_equivalent(b.model, {{"x", random_floats(rng, {4, K}, -1, 1)}}, kSameIntegersRelTol);
}

TEST_CASE("rewrite-integer: MatMulInteger with a constant zero point is exact on the packed kernel") {
  Rng rng(3);
  const int64_t K = 29, N = 19;
  Builder b;
  b.model.graph.inputs.push_back(f32_info("a", {2, 3, K}));
  b.model.graph.inputs.back().elem_type = DType::kU8;
  b.init("bq", random_ints<int8_t>(rng, {K, N}, -128, 127));
  b.init("a_zp", Tensor::scalar<uint8_t>(131));
  b.init("b_zp", random_ints<int8_t>(rng, {N}, -5, 5));
  b.node("MatMulInteger", {"a", "bq", "a_zp", "b_zp"}, {"y"});
  b.output("y");
  const std::map<std::string, Tensor> feeds = {{"a", random_ints<uint8_t>(rng, {2, 3, K}, 0, 255)}};
  auto ref = make(b.model, false);
  auto fast = make(b.model, true);
  CHECK(op_counts(fast->model()).at("MatMulIntegerPacked") == 1);
  const auto want = ref->run(feeds);
  const auto got = fast->run(feeds);
  REQUIRE(want.ok());
  REQUIRE(got.ok());
  CHECK((*got)[0].same_content((*want)[0]));
}

TEST_CASE("rewrite-integer: QDQ int8 weights under Gemm (transB, alpha, beta) with dynamic QDQ activations") {
  Rng rng(4);
  const int64_t K = 40, N = 24;
  Builder b;
  b.input("x", {6, K});
  b.init("wq", random_ints<int8_t>(rng, {N, K}, -127, 127));
  b.init("w_scale", random_floats(rng, {N}, 0.001f, 0.01f));
  b.init("c", random_floats(rng, {N}, -1, 1));
  b.node("DequantizeLinear", {"wq", "w_scale"}, {"w"}, {int_attr("axis", 0)});
  b.node("DynamicQuantizeLinear", {"x"}, {"xq", "xs", "xzp"});
  b.node("DequantizeLinear", {"xq", "xs", "xzp"}, {"xd"});
  ir::Attribute alpha = int_attr("alpha", 0), beta = int_attr("beta", 0);
  alpha.kind = beta.kind = ir::AttrKind::kFloat;
  alpha.f = 0.5f;
  beta.f = 2.0f;
  b.node("Gemm", {"xd", "w", "c"}, {"y"}, {int_attr("transB", 1), alpha, beta});
  b.output("y");
  auto interp = make(b.model, true);
  const auto counts = op_counts(interp->model());
  CHECK(counts.at("Int8MatMul") == 1);
  CHECK(interp->model().graph.nodes.size() == 1);
  check_equivalent(b.model, {{"x", random_floats(rng, {6, K}, -1, 1)}}, kSameIntegersRelTol);
}

TEST_CASE("rewrite-integer: weight-only int8 and static QDQ activations") {
  Rng rng(5);
  const int64_t K = 33, N = 17;
  for (bool static_act : {false, true}) {
    Builder b;
    b.input("x", {5, K});
    b.init("wq", random_ints<uint8_t>(rng, {K, N}, 0, 255));
    b.init("w_scale", Tensor::scalar<float>(0.004f));
    b.init("w_zp", Tensor::scalar<uint8_t>(120));
    b.node("DequantizeLinear", {"wq", "w_scale", "w_zp"}, {"w"});
    std::string x = "x";
    if (static_act) {
      b.init("x_scale", Tensor::scalar<float>(0.02f));
      b.init("x_zp", Tensor::scalar<int8_t>(-4));
      b.node("QuantizeLinear", {"x", "x_scale", "x_zp"}, {"xq"});
      b.node("DequantizeLinear", {"xq", "x_scale", "x_zp"}, {"xd"});
      x = "xd";
    }
    b.node("MatMul", {x, "w"}, {"y"});
    b.output("y");
    auto interp = make(b.model, true);
    REQUIRE(op_counts(interp->model()).at("Int8MatMul") == 1);
    CHECK(interp->model().graph.nodes.size() == 1);
    CHECK(interp->model().graph.nodes[0].attr_string("act", "") == (static_act ? "static" : "row"));
    check_equivalent(b.model, {{"x", random_floats(rng, {5, K}, -1, 1)}}, static_act ? kSameIntegersRelTol : kActQuantRelTol);
  }
}

TEST_CASE("rewrite-integer: a weight read through a Transpose (a tied LM head) becomes Int8MatMul with trans_b") {
  Rng rng(6);
  const int64_t K = 40, N = 23;
  Builder b;
  b.input("x", {2, 3, K});
  b.model.graph.inputs.push_back(test::value_info("ids", DType::kI64, {4}, ""));
  b.init("wq", random_ints<int8_t>(rng, {N, K}, -127, 127));  // the embedding table, [vocab, dim]
  b.init("w_scale", random_floats(rng, {N}, 0.002f, 0.02f));
  b.node("DequantizeLinear", {"wq", "w_scale"}, {"w"}, {int_attr("axis", 0)});
  b.node("Gather", {"w", "ids"}, {"emb"});  // the table's other reader keeps the DequantizeLinear
  b.node("Transpose", {"w"}, {"wt"}, {ir::ints_attribute("perm", {1, 0})});
  b.node("MatMul", {"x", "wt"}, {"y"});
  b.output("y");
  b.output("emb");
  auto interp = make(b.model, true);
  const auto counts = op_counts(interp->model());
  REQUIRE(counts.at("Int8MatMul") == 1);
  CHECK(counts.count("Transpose") == 0);
  CHECK(counts.count("MatMul") == 0);
  for (const auto& n : interp->model().graph.nodes)
    if (n.op_type == "Int8MatMul") CHECK(n.attr_int("trans_b", 0) == 1);
  check_equivalent(b.model, {{"x", random_floats(rng, {2, 3, K}, -1, 1)}, {"ids", Tensor::from_vector<int64_t>({4}, {0, 5, 22, 7})}},
                   kActQuantRelTol);
}

// A quantized embedding table read by Gather becomes GatherDequantize, which gives the reference
// DequantizeLinear + Gather's floats exactly for every parameter layout: per tensor, per row,
// per column, blocked along the row (a partial last block) or along the column, with and
// without zero points, 4 and 8 bits, negative indices.
TEST_CASE("rewrite-integer: Gather of a DequantizeLinear becomes GatherDequantize with the same floats") {
  Rng rng(21);
  const int64_t R = 37, C = 70, block = 32;
  struct Case {
    DType dtype;
    int64_t axis, block_size;
    bool per_tensor, zero_point;
  };
  for (const Case& c : {Case{DType::kI4, 1, block, false, false}, Case{DType::kU4, 1, block, false, true},
                        Case{DType::kI4, 0, block, false, true}, Case{DType::kI8, 0, 0, false, false},
                        Case{DType::kU8, 1, 0, false, true}, Case{DType::kI8, 1, 0, true, true}}) {
    CAPTURE(c.axis);
    CAPTURE(c.block_size);
    Builder b;
    b.model.graph.inputs.push_back(test::value_info("ids", DType::kI64, {5}, ""));
    const bool nibble = c.dtype == DType::kI4 || c.dtype == DType::kU4;
    const bool is_signed = c.dtype == DType::kI4 || c.dtype == DType::kI8;
    const int lo = nibble ? (is_signed ? -8 : 0) : (is_signed ? -127 : 0), hi = nibble ? (is_signed ? 7 : 15) : (is_signed ? 127 : 255);
    auto ints = [&](const Shape& shape) {
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      std::vector<int> v(static_cast<size_t>(n));
      for (auto& x : v) x = rng.uniform_int(lo, hi);
      if (nibble) return packed4(c.dtype, shape, v);
      if (c.dtype == DType::kI8) return Tensor::from_vector<int8_t>(shape, std::vector<int8_t>(v.begin(), v.end()));
      return Tensor::from_vector<uint8_t>(shape, std::vector<uint8_t>(v.begin(), v.end()));
    };
    Shape s_shape;
    if (c.per_tensor) s_shape = {};
    else if (c.block_size == 0) s_shape = {c.axis == 0 ? R : C};
    else s_shape = c.axis == 1 ? Shape{R, (C + block - 1) / block} : Shape{(R + block - 1) / block, C};
    b.init("wq", ints({R, C}));
    b.init("w_scale", c.per_tensor ? Tensor::scalar<float>(0.03f) : random_floats(rng, s_shape, 0.002f, 0.05f));
    std::vector<std::string> dq_in = {"wq", "w_scale"};
    if (c.zero_point) {
      b.init("w_zp", ints(s_shape));
      dq_in.push_back("w_zp");
    }
    std::vector<ir::Attribute> attrs = {int_attr("axis", c.axis)};
    if (c.block_size > 0) attrs.push_back(int_attr("block_size", c.block_size));
    b.node("DequantizeLinear", dq_in, {"w"}, attrs);
    b.node("Gather", {"w", "ids"}, {"emb"});
    b.output("emb");
    auto interp = make(b.model, true);
    CHECK(op_counts(interp->model()).at("GatherDequantize") == 1);
    const std::map<std::string, Tensor> feeds = {{"ids", Tensor::from_vector<int64_t>({5}, {0, 36, 5, -1, 17})}};
    CHECK(run1(*interp, feeds) == run1(*make(b.model, false), feeds));
  }
}

TEST_CASE("rewrite-integer: blocked int4 / uint4 DequantizeLinear under MatMul and Gemm") {
  Rng rng(6);
  const int64_t K = 96, N = 20, block = 32;
  for (bool gemm : {false, true})
    for (DType dtype : {DType::kI4, DType::kU4}) {
      Builder b;
      b.input("x", {3, K});
      const Shape w_shape = gemm ? Shape{N, K} : Shape{K, N};
      const Shape s_shape = gemm ? Shape{N, K / block} : Shape{K / block, N};
      std::vector<int> codes(size_t(N * K));
      for (auto& c : codes) c = dtype == DType::kI4 ? rng.uniform_int(-8, 7) : rng.uniform_int(0, 15);
      b.init("wq", packed4(dtype, w_shape, codes));
      b.init("w_scale", random_floats(rng, s_shape, 0.01f, 0.05f));
      std::vector<std::string> dq_in = {"wq", "w_scale"};
      if (dtype == DType::kU4) {
        std::vector<int> zeros(size_t(N * K / block));
        for (auto& z : zeros) z = rng.uniform_int(0, 15);
        b.init("w_zp", packed4(dtype, s_shape, zeros));
        dq_in.push_back("w_zp");
      }
      b.node("DequantizeLinear", dq_in, {"w"}, {int_attr("axis", gemm ? 1 : 0), int_attr("block_size", block)});
      if (gemm) {
        b.init("c", random_floats(rng, {N}, -1, 1));
        b.node("Gemm", {"x", "w", "c"}, {"y"}, {int_attr("transB", 1)});
      } else {
        b.node("MatMul", {"x", "w"}, {"y"});
      }
      b.output("y");
      auto interp = make(b.model, true);
      CHECK(op_counts(interp->model()).at("Int4MatMul") == 1);
      CHECK(interp->model().graph.nodes.size() == 1);
      check_equivalent(b.model, {{"x", random_floats(rng, {3, K}, -1, 1)}}, kActQuantRelTol);
    }
}

// Three blocked-int4 products of one X (one with zero points, one whose scales give its weights
// another scale multiplier, so the group quantizes X twice) become one Int4MatMulGroup whose
// outputs are bit for bit those of three separate Int4MatMuls (each reading its own copy of X).
TEST_CASE("rewrite-integer: int4 products of one X share its quantization in an Int4MatMulGroup, exactly") {
  Rng rng(16);
  const int64_t K = 96, block = 32;
  const std::vector<int64_t> widths = {20, 17, 33};
  auto build = [&](bool shared_x) {
    Rng wrng(17);
    Builder b;
    b.input("x", {2, 3, K});
    b.init("zero", Tensor::scalar<float>(0.0f));
    std::vector<std::string> ys;
    for (size_t j = 0; j < widths.size(); ++j) {
      const std::string t = std::to_string(j);
      const DType dtype = j == 1 ? DType::kU4 : DType::kI4;
      std::vector<int> codes(size_t(widths[j] * K));
      for (auto& c : codes) c = dtype == DType::kI4 ? wrng.uniform_int(-8, 7) : wrng.uniform_int(0, 15);
      b.init("wq" + t, packed4(dtype, {K, widths[j]}, codes));
      const float range = j == 2 ? 40.0f : 0.05f;
      b.init("w_scale" + t, random_floats(wrng, {K / block, widths[j]}, range / 5, range));
      std::vector<std::string> dq_in = {"wq" + t, "w_scale" + t};
      if (dtype == DType::kU4) {
        std::vector<int> zeros(size_t(widths[j] * K / block));
        for (auto& z : zeros) z = wrng.uniform_int(0, 15);
        b.init("w_zp" + t, packed4(dtype, {K / block, widths[j]}, zeros));
        dq_in.push_back("w_zp" + t);
      }
      b.node("DequantizeLinear", dq_in, {"w" + t}, {int_attr("axis", 0), int_attr("block_size", block)});
      std::string x = "x";
      if (!shared_x) b.node("Add", {"x", "zero"}, {x = "x" + t});
      b.node("MatMul", {x, "w" + t}, {"y" + t});
      ys.push_back("y" + t);
    }
    b.node("Concat", ys, {"y"}, {int_attr("axis", -1)});
    b.output("y");
    return b.model;
  };
  const ir::Model grouped = build(true), separate = build(false);
  auto interp = make(grouped, true);
  const auto counts = op_counts(interp->model());
  CHECK(counts.at("Int4MatMulGroup") == 1);
  CHECK(counts.count("Int4MatMul") == 0);
  CHECK(op_counts(make(separate, true)->model()).at("Int4MatMul") == 3);
  const std::map<std::string, Tensor> feeds = {{"x", random_floats(rng, {2, 3, K}, -1, 1)}};
  check_equivalent(grouped, feeds, kActQuantRelTol);
  for (auto level : {runtime::IsaLevel::kScalar, runtime::IsaLevel::kAvx2, runtime::IsaLevel::kAvxVnni, runtime::IsaLevel::kAvx512}) {
    if (!runtime::isa_supported(level)) continue;
    IsaScope isa(level);
    CAPTURE(runtime::isa_name(level));
    CHECK(run1(*make(grouped, true), feeds) == run1(*make(separate, true), feeds));
  }
}

TEST_CASE("rewrite-integer: MatMulNBits (with and without zero points) becomes Int4MatMul") {
  Rng rng(7);
  const int64_t K = 80, N = 18, block = 32, blocks = 3;
  for (bool zero_points : {false, true}) {
    Builder b;
    b.input("x", {2, K});
    b.init("B", random_ints<uint8_t>(rng, {N, blocks, block / 2}, 0, 255));
    b.init("scales", random_floats(rng, {N * blocks}, 0.01f, 0.05f));
    std::vector<std::string> in = {"x", "B", "scales"};
    if (zero_points) {
      b.init("zp", random_ints<uint8_t>(rng, {N * 2}, 0, 255));
      in.push_back("zp");
    } else {
      in.push_back("");
    }
    in.push_back("");
    b.init("bias", random_floats(rng, {N}, -1, 1));
    in.push_back("bias");
    b.node("MatMulNBits", in, {"y"},
           {int_attr("K", K), int_attr("N", N), int_attr("bits", 4), int_attr("block_size", block)}, "com.microsoft");
    b.output("y");
    auto interp = make(b.model, true);
    CHECK(op_counts(interp->model()).at("Int4MatMul") == 1);
    check_equivalent(b.model, {{"x", random_floats(rng, {2, K}, -1, 1)}}, kActQuantRelTol);
  }
}

TEST_CASE("rewrite-integer: integer_kernels = false and unsupported forms leave the graph alone") {
  Rng rng(8);
  Builder b;
  b.input("x", {2, 16});
  b.init("B", random_ints<uint8_t>(rng, {4, 1, 8}, 0, 255));
  b.init("scales", random_floats(rng, {4}, 0.01f, 0.05f));
  // block 16 is valid MatMulNBits but not an int4 kernel block: the reference kernel runs it.
  b.node("MatMulNBits", {"x", "B", "scales"}, {"y"},
         {int_attr("K", 16), int_attr("N", 4), int_attr("bits", 4), int_attr("block_size", 16)}, "com.microsoft");
  b.output("y");
  CHECK(op_counts(make(b.model, true)->model()).at("MatMulNBits") == 1);
  ir::Model copy = b.model;
  auto stats = runtime::rewrite_integer_kernels(copy, runtime::KernelRegistry());  // no fused kernels registered
  REQUIRE(stats.ok());
  CHECK(stats->int4_matmuls == 0);
  CHECK(copy.graph.nodes.size() == 1);
}

TEST_CASE("rewrite-integer: onnxruntime's quantized peer models run in integer arithmetic") {
  const std::string dir = std::string(EMBER_SHARED_DIR) + "/models/peer/";
  if (!std::filesystem::exists(dir + "kjv-bert.dyn_int8.onnx")) EMBER_SKIP(dir << " holds no peer models");
  Rng rng(9);
  std::vector<int64_t> ids(2 * 128), mask(2 * 128, 1);
  for (auto& v : ids) v = rng.uniform_int(0, 255);
  const std::map<std::string, Tensor> feeds = {{"input_ids", Tensor::from_vector<int64_t>({2, 128}, ids)},
                                               {"attention_mask", Tensor::from_vector<int64_t>({2, 128}, mask)}};
  for (const char* name : {"kjv-bert.dyn_int8.onnx", "kjv-bert.int4_b32.onnx"}) {
    CAPTURE(name);
    auto model = formats::load_onnx(dir + name);
    REQUIRE(model.ok());
    auto fast = make(*model, true);
    const auto counts = op_counts(fast->model());
    CHECK(counts.count("MatMulInteger") == 0);
    CHECK(counts.count("MatMulNBits") == 0);
    CHECK(counts.count("Int8MatMul") + counts.count("Int4MatMul") > 0);
    auto ref = make(*model, false);
    const std::vector<float> want = run1(*ref, feeds), got = run1(*fast, feeds);
    double scale = 0;
    for (float v : want) scale = std::max(scale, double(std::fabs(v)));
    // Logits: the dynamic INT8 model keeps its integers; INT4 adds int8 activations.
    const double tol = std::string(name).find("int4") != std::string::npos ? 5e-2 : 1e-3;
    for (size_t i = 0; i < want.size(); ++i) REQUIRE(std::fabs(got[i] - want[i]) <= tol * scale);
  }
}
