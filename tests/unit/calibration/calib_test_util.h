// Helpers for the calibration and activation-quantization tests: reproducible random data,
// small models built in code, and scratch files.
#pragma once
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/tensor.h"

namespace ember::calib_test {

// xorshift with Box-Muller normals: the same numbers on every run.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 0x9e3779b97f4a7c15ull + 1) {}
  uint64_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }
  double uniform() { return static_cast<double>(next() >> 11) / 9007199254740992.0; }  // [0, 1)
  double normal() {
    const double u = std::max(uniform(), 1e-300), v = uniform();
    return std::sqrt(-2 * std::log(u)) * std::cos(6.283185307179586 * v);
  }

 private:
  uint64_t state_;
};

inline std::vector<float> normals(Rng& rng, size_t n, double sigma = 1) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.normal() * sigma);
  return v;
}

inline ir::ValueInfo tensor_info(const std::string& name, DType type, std::vector<int64_t> dims) {
  ir::ValueInfo v;
  v.name = name;
  v.elem_type = type;
  v.has_shape = true;
  for (int64_t d : dims) {
    ir::Dim dim;
    dim.value = d;
    if (d < 0) dim.param = "batch";
    v.dims.push_back(dim);
  }
  return v;
}

inline ir::Node node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                     std::vector<std::string> outputs, std::vector<ir::Attribute> attrs = {}) {
  ir::Node n;
  n.op_type = op;
  n.name = name;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.attributes = std::move(attrs);
  return n;
}

inline ir::Attribute int_attr(const std::string& name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.kind = ir::AttrKind::kInt;
  a.i = v;
  return a;
}

inline ir::Model empty_model(int64_t opset = 17) {
  ir::Model m;
  m.ir_version = 8;
  m.opset_imports.push_back({"", opset});
  m.graph.name = "test";
  return m;
}

inline void add_initializer(ir::Model& m, const std::string& name, Tensor t) {
  m.graph.set_initializer(name, std::move(t));
}

// A scratch directory removed when the object goes away.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag) {
    path_ = std::filesystem::temp_directory_path() / ("ember_" + tag + "_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace ember::calib_test
