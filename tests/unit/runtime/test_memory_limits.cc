// Allocation caps (ir/memory_limits.h) and the thread clamp: a model-controlled size above the
// caps is invalid_input naming the node and the size, from the one place kernels run, so every
// kernel (and those added later) inherits the check.
#include <doctest/doctest.h>

#include "ir/memory_limits.h"
#include "runtime/cores.h"
#include "runtime/interpreter.h"
#include "runtime/parallel.h"
#include "runtime/single_op.h"
#include "runtime/tensor_pool.h"
#include "tests/unit/test_support.h"

using namespace ember;

namespace {

// Pins small caps for one test case; `total` counts on top of the storage already alive.
class LimitsScope {
 public:
  LimitsScope(uint64_t tensor, uint64_t total) : saved_(memory_limits()) {
    MemoryLimits limits = saved_;
    limits.max_tensor_bytes = tensor;
    limits.max_total_bytes = live_tensor_bytes() + total;
    set_memory_limits(limits);
  }
  ~LimitsScope() { set_memory_limits(saved_); }

 private:
  MemoryLimits saved_;
};

ir::Node op(const std::string& type, std::vector<std::string> inputs) {
  return ir::make_node(type, "big_" + type, std::move(inputs), {"y"});
}

std::string run_error(const ir::Node& node, const std::vector<Tensor>& inputs) {
  auto out = runtime::run_single_op(node, 17, inputs);
  if (out.ok()) return "(accepted)";
  CHECK(out.status().code() == StatusCode::kInvalidInput);
  return out.status().message();
}

}  // namespace

TEST_CASE("defaults follow the machine's memory") {
  const MemoryLimits d = default_memory_limits();
  CHECK(d.max_tensor_bytes > (uint64_t{64} << 20));
  CHECK(d.max_total_bytes >= d.max_tensor_bytes);
  CHECK(d.max_loop_iterations > 0);
  CHECK(d.max_sequence_length > 0);
}

TEST_CASE("Tensor::zeros and the pool refuse sizes over the caps and overflowing shapes") {
  LimitsScope scope(1 << 20, 1 << 22);
  CHECK_NOTHROW(Tensor::zeros(DType::kF32, {256, 256}));  // 256 KB
  CHECK_THROWS_AS(Tensor::zeros(DType::kF32, {1024, 1024}), AllocationRefused);
  CHECK_THROWS_AS(Tensor::zeros(DType::kF32, {int64_t{1} << 40, int64_t{1} << 40}), AllocationRefused);
  CHECK_THROWS_AS(Tensor::zeros(DType::kF32, {-1, 4}), AllocationRefused);
  CHECK_THROWS_AS(Tensor::zeros(DType::kString, {int64_t{1} << 40}), AllocationRefused);
  runtime::TensorPool pool;
  CHECK_NOTHROW(pool.allocate(DType::kF32, {256, 256}));
  CHECK_THROWS_AS(pool.allocate(DType::kI64, {int64_t{1} << 62, 4}), AllocationRefused);
  // The total: five 900 KB tensors alive at once exceed 4 MB.
  std::vector<Tensor> alive;
  auto fill = [&] {
    for (int i = 0; i < 5; ++i) alive.push_back(Tensor::zeros(DType::kU8, {900 << 10}));
  };
  CHECK_THROWS_AS(fill(), AllocationRefused);
  alive.clear();
  CHECK_NOTHROW(Tensor::zeros(DType::kU8, {900 << 10}));  // released storage is counted out
}

TEST_CASE("Expand, Tile, ConstantOfShape and Range to huge sizes name the node and the size") {
  LimitsScope scope(64 << 20, 256 << 20);
  const Tensor x = Tensor::from_vector<float>({3}, {1, 2, 3});
  std::string e = run_error(op("Expand", {"x", "s"}), {x, Tensor::from_vector<int64_t>({3}, {100000, 100000, 3})});
  CHECK(e.find("big_Expand") != std::string::npos);
  CHECK(e.find("120000000000 bytes") != std::string::npos);
  e = run_error(op("Tile", {"x", "r"}), {x, Tensor::from_vector<int64_t>({1}, {int64_t{1} << 40})});
  CHECK(e.find("big_Tile") != std::string::npos);
  e = run_error(op("Tile", {"x", "r"}), {x, Tensor::from_vector<int64_t>({1}, {int64_t{1} << 62})});
  CHECK(e.find("overflows") != std::string::npos);
  e = run_error(op("ConstantOfShape", {"s"}), {Tensor::from_vector<int64_t>({2}, {4000000, 4000000})});
  CHECK(e.find("big_ConstantOfShape") != std::string::npos);
  CHECK(e.find("asked") != std::string::npos);
  e = run_error(op("ConstantOfShape", {"s"}), {Tensor::from_vector<int64_t>({3}, {int64_t{1} << 40, int64_t{1} << 40, 2})});
  CHECK(e.find("more elements") != std::string::npos);
  e = run_error(op("Range", {"a", "b", "c"}),
                {Tensor::scalar<int64_t>(INT64_MIN + 1), Tensor::scalar<int64_t>(INT64_MAX), Tensor::scalar<int64_t>(1)});
  CHECK(e.find("big_Range") != std::string::npos);
  e = run_error(op("Range", {"a", "b", "c"}),
                {Tensor::scalar<float>(0), Tensor::scalar<float>(INFINITY), Tensor::scalar<float>(1)});
  CHECK(e.find("64 bits") != std::string::npos);
  e = run_error(op("Range", {"a", "b", "c"}), {Tensor::scalar<float>(0), Tensor::scalar<float>(1e12f), Tensor::scalar<float>(1)});
  CHECK(e.find("asked") != std::string::npos);
}

TEST_CASE("the interpreter reports a refused allocation at run time with the node") {
  LimitsScope scope(1 << 20, 1 << 24);
  ir::Model m;
  m.opset_imports.push_back({"", 17});
  m.graph.inputs.push_back(ember::test::value_info("shape", DType::kI64));
  m.graph.nodes.push_back(ir::make_node("ConstantOfShape", "fill", {"shape"}, {"y"}));
  m.graph.outputs.push_back(ember::test::value_info("y", DType::kF32));
  auto interp = runtime::Interpreter::create(m);
  REQUIRE(interp.ok());
  auto small = (*interp)->run({{"shape", Tensor::from_vector<int64_t>({2}, {4, 4})}});
  CHECK(small.ok());
  auto big = (*interp)->run({{"shape", Tensor::from_vector<int64_t>({2}, {100000, 100000})}});
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().code() == StatusCode::kInvalidInput);
  CHECK(big.status().message().find("node 'fill' (ConstantOfShape)") != std::string::npos);
}

TEST_CASE("thread counts are clamped to the available cores") {
  const int saved = runtime::num_threads();
  CHECK(runtime::effective_threads(100000) == runtime::available_cores());
  runtime::set_num_threads(100000);
  CHECK(runtime::num_threads() == runtime::available_cores());
  CHECK(runtime::effective_threads(1) == 1);
  CHECK(runtime::effective_threads(0) == runtime::available_cores());
  runtime::set_num_threads(saved);
}
