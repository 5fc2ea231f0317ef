// Helpers shared by the unit tests: attribute, node, value-info and model builders, running one
// op, deterministic random data, a tolerance check that reports the first mismatch, and scopes
// that pin the ISA level or thread count. The per-area *_test_util.h headers include this one,
// bring the names they use into their own namespaces and add only what their area needs.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "ir/builders.h"
#include "ir/model.h"
#include "ir/tensor.h"
#include "runtime/cpu.h"
#include "runtime/parallel.h"
#include "runtime/single_op.h"

// Ends the running test as skipped, printing why: ctest reports a test whose output has
// "EMBER-SKIP:" as skipped (SKIP_REGULAR_EXPRESSION in tests/CMakeLists.txt), so a missing
// ../shared never passes silently.
#define EMBER_SKIP(reason)                 \
  do {                                     \
    MESSAGE("EMBER-SKIP: " << reason);     \
    return;                                \
  } while (0)

namespace ember::test {

// ---- Attributes ----

// An attribute of `kind` whose value the caller fills in.
inline ir::Attribute attr_of(const std::string& name, ir::AttrKind kind) {
  ir::Attribute a;
  a.name = name;
  a.kind = kind;
  return a;
}

inline ir::Attribute int_attr(const std::string& name, int64_t v) {
  ir::Attribute a = attr_of(name, ir::AttrKind::kInt);
  a.i = v;
  return a;
}
inline ir::Attribute float_attr(const std::string& name, float v) {
  ir::Attribute a = attr_of(name, ir::AttrKind::kFloat);
  a.f = v;
  return a;
}
inline ir::Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  ir::Attribute a = attr_of(name, ir::AttrKind::kInts);
  a.ints = std::move(v);
  return a;
}
inline ir::Attribute string_attr(const std::string& name, std::string v) {
  ir::Attribute a = attr_of(name, ir::AttrKind::kString);
  a.s = std::move(v);
  return a;
}
inline ir::Attribute tensor_attr(const std::string& name, Tensor v) {
  ir::Attribute a = attr_of(name, ir::AttrKind::kTensor);
  a.t = std::move(v);
  return a;
}

// ---- Nodes, value infos and models ----

// A node running `op`, named `name`.
inline ir::Node node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                     std::vector<std::string> outputs, std::vector<ir::Attribute> attrs = {}) {
  return ir::make_node(op, name, std::move(inputs), std::move(outputs), std::move(attrs));
}

// "<prefix>0", "<prefix>1", ..., "<prefix>{count-1}".
inline std::vector<std::string> numbered(const std::string& prefix, size_t count) {
  std::vector<std::string> names;
  for (size_t i = 0; i < count; ++i) names.push_back(prefix + std::to_string(i));
  return names;
}

// A node named "n_<op>" with inputs x0..x{n-1} and outputs y0..y{m-1}.
inline ir::Node op_node(const std::string& op, size_t inputs, std::vector<ir::Attribute> attrs = {},
                        size_t outputs = 1) {
  return node(op, "n_" + op, numbered("x", inputs), numbered("y", outputs), std::move(attrs));
}

// A graph input or output of element type `dtype`, without a shape.
inline ir::ValueInfo value_info(const std::string& name, DType dtype) {
  ir::ValueInfo v;
  v.name = name;
  v.elem_type = dtype;
  return v;
}

// The same with shape `dims`; a negative dim is the symbolic dimension `symbol`.
inline ir::ValueInfo value_info(const std::string& name, DType dtype, const std::vector<int64_t>& dims,
                                const std::string& symbol) {
  ir::ValueInfo v = value_info(name, dtype);
  v.has_shape = true;
  for (int64_t d : dims) v.dims.push_back({d, d < 0 ? symbol : std::string()});
  return v;
}

// A model (IR version 8) importing the default domain at `opset`, with an empty graph.
inline ir::Model empty_model(int64_t opset = 17, const std::string& graph_name = "test") {
  ir::Model m;
  m.ir_version = 8;
  m.opset_imports.push_back({"", opset});
  m.graph.name = graph_name;
  return m;
}

// How many nodes run `op`.
inline size_t count_ops(const ir::Model& model, const std::string& op) {
  size_t n = 0;
  for (const auto& nd : model.graph.nodes) n += nd.op_type == op;
  return n;
}

// The first node running `op`, or nullptr.
inline const ir::Node* find_op(const ir::Model& model, const std::string& op) {
  for (const auto& nd : model.graph.nodes)
    if (nd.op_type == op) return &nd;
  return nullptr;
}

// The node named `name`, or nullptr.
inline const ir::Node* find_node(const ir::Model& model, const std::string& name) {
  for (const auto& nd : model.graph.nodes)
    if (nd.name == name) return &nd;
  return nullptr;
}

// ---- Running one op ----

// Runs the node through the default registry; fails the test case when the kernel errors.
inline std::vector<Tensor> run_op(const ir::Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                                  bool constant = false) {
  auto result = runtime::run_single_op(node, opset, inputs, constant);
  if (!result.ok()) FAIL(result.status().message());
  return std::move(result).value();
}

// The status of running the node (for the error cases).
inline Status run_status(const ir::Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                         bool constant = false) {
  auto result = runtime::run_single_op(node, opset, inputs, constant);
  return result.ok() ? Status::Ok() : result.status();
}

// ---- Tensors ----

// A 1-D int64 tensor.
inline Tensor i64s(std::vector<int64_t> values) {
  return Tensor::from_vector<int64_t>({int64_t(values.size())}, values);
}

// An f16 (or bf16) tensor holding `values` rounded to that type.
inline Tensor half_tensor(Shape shape, const std::vector<float>& values, DType dtype = DType::kF16) {
  Tensor t = Tensor::zeros(dtype, std::move(shape));
  uint16_t* out = t.mutable_data<uint16_t>();
  for (size_t i = 0; i < values.size(); ++i) out[i] = dtype == DType::kF16 ? float_to_half(values[i]) : float_to_bfloat16(values[i]);
  return t;
}

template <class T>
std::vector<T> values_of(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

// Any numeric tensor read as floats.
inline std::vector<float> floats_of(const Tensor& t) { return t.to_floats().value(); }

inline std::vector<double> to_doubles(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// ---- Deterministic random data ----

// Values in [-1, 1) from a linear congruential generator, different per seed.
inline std::vector<float> random_floats(int64_t count, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(count));
  uint32_t state = seed * 2654435761u + 12345u;
  for (float& x : v) {
    state = state * 1664525u + 1013904223u;
    x = static_cast<float>(state >> 8) / static_cast<float>(1u << 23) - 1.0f;
  }
  return v;
}

inline Tensor random_tensor(Shape shape, uint32_t seed) {
  const int64_t n = shape_numel(shape);
  return Tensor::from_vector<float>(std::move(shape), random_floats(n, seed));
}

// Uniform values in [lo, hi) from std::mt19937(seed).
inline std::vector<float> uniform_floats(size_t count, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

// Normal values (mean `offset`) from std::mt19937(seed).
inline std::vector<float> normal_floats(size_t count, uint32_t seed, float stddev = 1.0f, float offset = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> v(count);
  for (float& x : v) x = normal(rng) + offset;
  return v;
}

inline Tensor normal_tensor(Shape shape, uint32_t seed, float stddev = 1.0f, float offset = 0.0f) {
  const size_t n = static_cast<size_t>(shape_numel(shape));
  return Tensor::from_vector<float>(std::move(shape), normal_floats(n, seed, stddev, offset));
}

// xorshift64: reproducible bits without <random>'s platform-dependent distributions. Each area
// derives its Rng from it with its own seeding and value mappings.
class XorShift {
 public:
  explicit XorShift(uint64_t state) : state_(state) {}
  uint64_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }

 private:
  uint64_t state_;
};

// ---- Comparing ----

// Checks shape and every value within atol + rtol * |expected|; reports the first mismatch.
inline void check_close(const Tensor& actual, const Shape& expected_shape, const std::vector<double>& expected,
                        double atol = 1e-4, double rtol = 1e-4) {
  REQUIRE(shape_to_string(actual.shape()) == shape_to_string(expected_shape));
  REQUIRE(static_cast<size_t>(actual.numel()) == expected.size());
  auto values = actual.to_floats();
  REQUIRE(values.ok());
  for (size_t i = 0; i < expected.size(); ++i) {
    const double a = values.value()[i], e = expected[i];
    if (std::fabs(a - e) > atol + rtol * std::fabs(e)) {
      INFO("index " << i << ": got " << a << ", expected " << e);
      CHECK(std::fabs(a - e) <= atol + rtol * std::fabs(e));
      return;
    }
  }
}

// ---- Process-wide runtime settings ----

// Sets a process-wide setting for the lifetime of the object, then restores the previous value.
template <class T, T (*Get)(), auto Set>
class ScopedSetting {
 public:
  explicit ScopedSetting(T value) : saved_(Get()) { Set(value); }
  ~ScopedSetting() { Set(saved_); }
  ScopedSetting(const ScopedSetting&) = delete;
  ScopedSetting& operator=(const ScopedSetting&) = delete;

 private:
  T saved_;
};

using IsaScope = ScopedSetting<runtime::IsaLevel, runtime::isa_level, runtime::set_isa_level>;
using ThreadsScope = ScopedSetting<int, runtime::num_threads, runtime::set_num_threads>;

// kScalar, then each of `candidates` this CPU and OS can run.
inline std::vector<runtime::IsaLevel> testable_levels(
    std::initializer_list<runtime::IsaLevel> candidates = {runtime::IsaLevel::kAvx2, runtime::IsaLevel::kAvxVnni,
                                                           runtime::IsaLevel::kAvx512}) {
  std::vector<runtime::IsaLevel> levels{runtime::IsaLevel::kScalar};
  for (runtime::IsaLevel l : candidates)
    if (runtime::isa_supported(l)) levels.push_back(l);
  return levels;
}

}  // namespace ember::test
