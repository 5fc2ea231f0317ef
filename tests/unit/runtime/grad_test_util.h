// Finite-difference checks for the backward rules (runtime/grad). A model's scalar test loss
// is L = sum_j <R_j, Y_j> over its float outputs with fixed random R_j. The analytic gradient
// comes from BackwardInterpreter (f32); the reference is a central difference of L computed
// in float64 (the model converted to f64, the differentiated values fed as inputs), so the
// reference itself carries no f32 rounding.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/grad/backward_interpreter.h"
#include "runtime/interpreter.h"
#include "tests/unit/test_support.h"

namespace ember::grad_test {

using test::float_attr;
using test::int_attr;
using test::ints_attr;
using test::value_info;

// A node named "n_<op>_<first output>".
inline ir::Node make_node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                          std::vector<ir::Attribute> attrs = {}) {
  const std::string name = "n_" + op + "_" + (outputs.empty() ? std::string() : outputs[0]);
  return test::node(op, name, std::move(inputs), std::move(outputs), std::move(attrs));
}

// Normal values; `offset` shifts them (positive inputs for Sqrt/Log/Pow).
inline Tensor random_f32(Shape shape, uint32_t seed, float stddev = 1.0f, float offset = 0.0f) {
  return test::normal_tensor(std::move(shape), seed, stddev, offset);
}

// Values spaced at least `gap` apart in random order: no ties and no kinks for Relu/MaxPool.
inline Tensor distinct_f32(Shape shape, uint32_t seed, float gap = 0.05f) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = (static_cast<float>(i) - static_cast<float>(v.size()) / 2.0f + 0.5f) * gap;
  std::mt19937 rng(seed);
  std::shuffle(v.begin(), v.end(), rng);
  return Tensor::from_vector<float>(std::move(shape), v);
}

enum class Role { kWeight, kFeed, kConstant };  // differentiated initializer, differentiated graph input, constant
struct TestInput {
  std::string name;
  Tensor value;
  Role role = Role::kWeight;
};

// A model running `nodes`; outputs are listed explicitly.
inline ir::Model make_graph_model(std::vector<ir::Node> nodes, const std::vector<TestInput>& inputs,
                                  const std::vector<std::string>& outputs, int64_t opset = 17) {
  ir::Model m = test::empty_model(opset, "grad_test");
  m.graph.nodes = std::move(nodes);
  for (const auto& in : inputs) {
    if (in.role == Role::kFeed) m.graph.inputs.push_back(value_info(in.name, in.value.dtype()));
    else m.graph.set_initializer(in.name, in.value);
  }
  for (const auto& out : outputs) m.graph.outputs.push_back(value_info(out, DType::kUndefined));
  return m;
}

inline Tensor to_f64(const Tensor& t) {
  if (t.dtype() != DType::kF32) return t;
  auto values = t.to_floats();
  std::vector<double> d(values->begin(), values->end());
  return Tensor::from_vector<double>(t.shape(), d);
}

// The model in float64; the `differentiated` initializers become graph inputs.
inline ir::Model f64_model(const ir::Model& model, const std::vector<std::string>& differentiated) {
  ir::Model m = model;
  for (auto& [name, t] : m.graph.initializers) t = to_f64(t);
  for (const auto& name : differentiated)
    if (m.graph.find_initializer(name)) {
      m.graph.remove_initializer(name);
      m.graph.inputs.push_back(value_info(name, DType::kF64));
    }
  for (auto& in : m.graph.inputs)
    if (in.elem_type == DType::kF32) in.elem_type = DType::kF64;
  for (auto& node : m.graph.nodes) {
    if (node.op_type == "Cast" || node.op_type == "SequenceEmpty")  // the float type they name
      for (auto& a : node.attributes)
        if ((a.name == "to" || a.name == "dtype") && a.i == static_cast<int64_t>(DType::kF32)) a.i = static_cast<int64_t>(DType::kF64);
    for (auto& a : node.attributes)
      if (a.kind == ir::AttrKind::kTensor) a.t = to_f64(a.t);
  }
  for (auto& out : m.graph.outputs) out.elem_type = DType::kUndefined;
  m.graph.value_info.clear();
  return m;
}

// sum_j <R_j, Y_j> in double over the float outputs.
inline double weighted_sum(const std::vector<Tensor>& outputs, const std::vector<Tensor>& weights) {
  double s = 0;
  for (size_t j = 0; j < outputs.size(); ++j) {
    if (!weights[j].defined()) continue;
    const float* r = weights[j].data<float>();
    if (outputs[j].dtype() == DType::kF64) {
      for (int64_t i = 0; i < outputs[j].numel(); ++i) s += outputs[j].data<double>()[i] * r[i];
    } else {
      for (int64_t i = 0; i < outputs[j].numel(); ++i) s += static_cast<double>(outputs[j].data<float>()[i]) * r[i];
    }
  }
  return s;
}

struct CheckOptions {
  double tolerance = 2e-3;  // relative to the largest reference gradient of the tensor
  uint32_t seed = 7;
  double step = 1e-6;  // of the central differences, relative to max(1, |x|)
};

// Checks dL/dv for every differentiated input (kWeight and kFeed) against central differences.
inline void check_model_gradients(const ir::Model& model, const std::vector<TestInput>& inputs,
                                  const CheckOptions& options = {}) {
  namespace rg = runtime::grad;
  std::vector<std::string> weights, feeds_diff, differentiated;
  std::map<std::string, Tensor> feeds;
  for (const auto& in : inputs) {
    if (in.role == Role::kWeight) weights.push_back(in.name);
    if (in.role == Role::kFeed) {
      feeds[in.name] = in.value;
      if (in.value.dtype() == DType::kF32) feeds_diff.push_back(in.name);
    }
    if (in.role != Role::kConstant && in.value.dtype() == DType::kF32) differentiated.push_back(in.name);
  }
  rg::GradientOptions go;
  go.parameters = weights;
  go.activations = feeds_diff;
  auto bi = rg::BackwardInterpreter::create(model, go);
  if (!bi.ok()) FAIL(bi.status().message());
  auto outputs = (*bi)->forward(feeds);
  if (!outputs.ok()) FAIL(outputs.status().message());
  std::vector<Tensor> r(outputs->size());
  std::map<std::string, Tensor> seeds;
  const auto names = (*bi)->output_names();
  for (size_t j = 0; j < outputs->size(); ++j) {
    if ((*outputs)[j].dtype() != DType::kF32) continue;
    r[j] = random_f32((*outputs)[j].shape(), options.seed + 100 + static_cast<uint32_t>(j));
    seeds[names[j]] = r[j];
  }
  std::map<std::string, Tensor> analytic;
  Status st = (*bi)->backward(seeds, [&](const std::string& name, const Tensor& g) {
    analytic[name] = g.clone();
    return Status::Ok();
  });
  if (!st.ok()) FAIL(st.message());

  // Reference: the same graph in f64 (every kernel on a gradient path supports f64).
  ir::Model m64 = f64_model(model, differentiated);
  std::map<std::string, Tensor> base;
  for (const auto& in : inputs)
    if (in.role != Role::kConstant) base[in.name] = to_f64(in.value);
  runtime::InterpreterOptions io;
  io.fold_constants = false;
  auto interp = runtime::Interpreter::create(m64, io);
  if (!interp.ok()) FAIL(interp.status().message());
  auto loss = [&](const std::map<std::string, Tensor>& f) {
    auto out = interp.value()->run(f);
    if (!out.ok()) FAIL(out.status().message());
    return weighted_sum(*out, r);
  };
  for (const auto& name : differentiated) {
    INFO("gradient of ", name);
    const Tensor& v = base.at(name);
    std::vector<double> numeric(static_cast<size_t>(v.numel()));
    for (int64_t i = 0; i < v.numel(); ++i) {
      std::map<std::string, Tensor> plus = base, minus = base;
      plus[name] = v.clone();
      minus[name] = v.clone();
      const double x = v.data<double>()[i], h = options.step * std::max(1.0, std::fabs(x));
      plus[name].mutable_data<double>()[i] = x + h;
      minus[name].mutable_data<double>()[i] = x - h;
      numeric[size_t(i)] = (loss(plus) - loss(minus)) / (2 * h);
    }
    double largest = 0;
    for (double n : numeric) largest = std::max(largest, std::fabs(n));
    const double scale = std::max(largest, 1e-6);
    const double tol = options.tolerance * scale;
    auto it = analytic.find(name);
    if (it == analytic.end()) {
      // No gradient reported means zero: the reference must agree.
      CHECK(largest <= 1e-6);
      continue;
    }
    REQUIRE(it->second.numel() == v.numel());
    double worst = 0;
    int64_t worst_at = 0;
    for (int64_t i = 0; i < v.numel(); ++i) {
      const double d = std::fabs(it->second.data<float>()[i] - numeric[size_t(i)]);
      if (d > worst) {
        worst = d;
        worst_at = i;
      }
    }
    INFO("worst element ", worst_at, ": analytic ", it->second.data<float>()[worst_at], " numeric ",
         numeric[size_t(worst_at)], " (scale ", scale, ")");
    CHECK(worst <= tol);
  }
}

// One node whose inputs are `inputs` (in order; "" names an omitted input) and whose outputs
// are y0..y{n-1}.
inline void check_node(const std::string& op, const std::vector<TestInput>& inputs, std::vector<ir::Attribute> attrs = {},
                       int64_t opset = 17, size_t outputs = 1, const CheckOptions& options = {}) {
  std::vector<std::string> in_names, out_names;
  std::vector<TestInput> present;
  for (const auto& in : inputs) {
    in_names.push_back(in.name);
    if (!in.name.empty()) present.push_back(in);
  }
  for (size_t i = 0; i < outputs; ++i) out_names.push_back("y" + std::to_string(i));
  ir::Model m = make_graph_model({make_node(op, in_names, out_names, std::move(attrs))}, present, out_names, opset);
  INFO(op, " opset ", opset);
  check_model_gradients(m, present, options);
}

// For ops whose kernel is float32 only (GroupNormalization, LRN, GRU, RNN...): the test gives a
// float64 reference of the outputs (flattened, one vector per output) from the float values of
// every input. The f32 outputs must match it, and the analytic gradients of the differentiated
// inputs must match central differences of it.
using Values = std::map<std::string, std::vector<double>>;
using Reference = std::function<std::vector<std::vector<double>>(const Values&)>;

inline void check_against_reference(const ir::Model& model, const std::vector<TestInput>& inputs, const Reference& reference,
                                    const CheckOptions& options = {}) {
  namespace rg = runtime::grad;
  rg::GradientOptions go;
  std::map<std::string, Tensor> feeds;
  Values base;
  for (const auto& in : inputs) {
    if (in.value.dtype() == DType::kF32) base[in.name].assign(in.value.data<float>(), in.value.data<float>() + in.value.numel());
    if (in.role == Role::kFeed) feeds[in.name] = in.value;
    if (in.role == Role::kWeight) go.parameters.push_back(in.name);
    if (in.role == Role::kFeed && in.value.dtype() == DType::kF32) go.activations.push_back(in.name);
  }
  auto bi = rg::BackwardInterpreter::create(model, go);
  REQUIRE_MESSAGE(bi.ok(), bi.status().message());
  auto outputs = (*bi)->forward(feeds);
  REQUIRE_MESSAGE(outputs.ok(), outputs.status().message());
  const auto expected = reference(base);
  REQUIRE(expected.size() == outputs->size());
  std::vector<Tensor> r(outputs->size());
  std::map<std::string, Tensor> seeds;
  for (size_t j = 0; j < outputs->size(); ++j) {
    const Tensor& y = (*outputs)[j];
    REQUIRE(static_cast<size_t>(y.numel()) == expected[j].size());
    for (int64_t i = 0; i < y.numel(); ++i)
      CHECK(y.data<float>()[i] == doctest::Approx(expected[j][size_t(i)]).epsilon(1e-4).scale(1.0));
    r[j] = random_f32(y.shape(), options.seed + 100 + static_cast<uint32_t>(j));
    seeds[(*bi)->output_names()[j]] = r[j];
  }
  std::map<std::string, Tensor> analytic;
  REQUIRE((*bi)->backward(seeds, [&](const std::string& name, const Tensor& g) {
                 analytic[name] = g.clone();
                 return Status::Ok();
               }).ok());
  auto loss = [&](const Values& v) {
    const auto out = reference(v);
    double total = 0;
    for (size_t j = 0; j < out.size(); ++j)
      for (size_t i = 0; i < out[j].size(); ++i) total += out[j][i] * r[j].data<float>()[i];
    return total;
  };
  for (const auto& in : inputs) {
    if (in.role == Role::kConstant || in.value.dtype() != DType::kF32) continue;
    INFO("gradient of ", in.name);
    std::vector<double> numeric(size_t(in.value.numel()));
    for (size_t i = 0; i < numeric.size(); ++i) {
      Values plus = base, minus = base;
      const double h = options.step * std::max(1.0, std::fabs(base[in.name][i]));
      plus[in.name][i] += h;
      minus[in.name][i] -= h;
      numeric[i] = (loss(plus) - loss(minus)) / (2 * h);
    }
    double largest = 1e-6;
    for (double n : numeric) largest = std::max(largest, std::fabs(n));
    REQUIRE(analytic.count(in.name) == 1);
    for (size_t i = 0; i < numeric.size(); ++i) {
      INFO("element ", i, ": analytic ", analytic[in.name].data<float>()[i], " numeric ", numeric[i]);
      CHECK(std::fabs(analytic[in.name].data<float>()[i] - numeric[i]) <= options.tolerance * largest);
    }
  }
}

// For float32-only kernels: the model itself, run in float32, is the reference. Central
// differences of it are exact (up to float32 rounding) for functions linear along each
// differentiated coordinate over [x - step, x + step] (linear ops with any step; bilinear
// sampling away from pixel boundaries); for smooth ones, a step near 1e-2 with a tolerance
// near 1e-2 bounds both the truncation and the rounding error.
inline void check_float32_model(const ir::Model& model, const std::vector<TestInput>& inputs, const CheckOptions& options) {
  ir::Model fed = model;  // every differentiated initializer becomes a graph input
  for (const auto& in : inputs)
    if (in.role == Role::kWeight) {
      fed.graph.remove_initializer(in.name);
      fed.graph.inputs.push_back(value_info(in.name, DType::kF32));
    }
  runtime::InterpreterOptions io;
  io.fold_constants = false;
  auto interp = runtime::Interpreter::create(fed, io);
  REQUIRE_MESSAGE(interp.ok(), interp.status().message());
  const Reference reference = [&](const Values& v) {
    std::map<std::string, Tensor> feeds;
    for (const auto& in : inputs)
      if (in.role != Role::kConstant)
        feeds[in.name] = Tensor::from_vector<float>(in.value.shape(), std::vector<float>(v.at(in.name).begin(), v.at(in.name).end()));
    auto out = interp.value()->run(feeds);
    REQUIRE_MESSAGE(out.ok(), out.status().message());
    std::vector<std::vector<double>> result;
    for (const Tensor& t : *out) result.emplace_back(t.data<float>(), t.data<float>() + t.numel());
    return result;
  };
  check_against_reference(model, inputs, reference, options);
}

// One node (inputs as in check_node) checked by check_float32_model with `step`.
inline void check_float32_node(const std::string& op, const std::vector<TestInput>& inputs, std::vector<ir::Attribute> attrs,
                               int64_t opset, double step = 1.0) {
  std::vector<std::string> in_names;
  std::vector<TestInput> present;
  for (const auto& in : inputs) {
    in_names.push_back(in.name);
    if (!in.name.empty()) present.push_back(in);
  }
  const ir::Model model = make_graph_model({make_node(op, in_names, {"y0"}, std::move(attrs))}, present, {"y0"}, opset);
  CheckOptions options;
  options.step = step;
  check_float32_model(model, present, options);
}

// One forward and backward pass of `bi` on `feeds`, the outputs seeded with fixed random values
// (seed 40 + output index); every gradient the pass reports, by name.
inline std::map<std::string, Tensor> seeded_gradients(runtime::grad::BackwardInterpreter& bi,
                                                      const std::map<std::string, Tensor>& feeds) {
  std::map<std::string, Tensor> seeds, grads;
  auto out = bi.forward(feeds);
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  for (size_t j = 0; j < out->size(); ++j) seeds[bi.output_names()[j]] = random_f32((*out)[j].shape(), 40 + uint32_t(j));
  Status st = bi.backward(seeds, [&](const std::string& name, const Tensor& g) {
    grads[name] = g.clone();
    return Status::Ok();
  });
  REQUIRE_MESSAGE(st.ok(), st.message());
  return grads;
}

// A scalar bool tensor: an If's condition, a Loop's keep-going flag.
inline Tensor boolean(bool v) {
  Tensor t = Tensor::zeros(DType::kBool, {});
  t.mutable_data<uint8_t>()[0] = v;
  return t;
}

// A subgraph attribute (an If branch, a Loop or Scan body) with untyped inputs and one output.
inline ir::Attribute graph_attr(const std::string& name, std::vector<ir::Node> nodes, const std::vector<std::string>& inputs,
                                const std::string& output) {
  ir::Graph g;
  g.name = name;
  g.nodes = std::move(nodes);
  for (const auto& in : inputs) g.inputs.push_back(value_info(in, DType::kUndefined));
  g.outputs.push_back(value_info(output, DType::kUndefined));
  ir::Attribute a;
  a.name = name;
  a.kind = ir::AttrKind::kGraph;
  a.g = std::make_shared<ir::Graph>(std::move(g));
  return a;
}

// An If branch: no inputs.
inline ir::Attribute graph_attr(const std::string& name, std::vector<ir::Node> nodes, const std::string& output) {
  return graph_attr(name, std::move(nodes), {}, output);
}

}  // namespace ember::grad_test
