// Helpers for the calibration and activation-quantization tests: reproducible random data,
// small models built in code, and scratch files. The common builders come from the shared
// test_support.h.
#pragma once
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/unit/test_support.h"

namespace ember::calib_test {

using test::empty_model;
using test::int_attr;
using test::node;

// xorshift with Box-Muller normals: the same numbers on every run.
class Rng : public test::XorShift {
 public:
  explicit Rng(uint64_t seed) : XorShift(seed * 0x9e3779b97f4a7c15ull + 1) {}
  double uniform() { return static_cast<double>(next() >> 11) / 9007199254740992.0; }  // [0, 1)
  double normal() {
    const double u = std::max(uniform(), 1e-300), v = uniform();
    return std::sqrt(-2 * std::log(u)) * std::cos(6.283185307179586 * v);
  }
};

inline std::vector<float> normals(Rng& rng, size_t n, double sigma = 1) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.normal() * sigma);
  return v;
}

// Negative dims are the symbolic dimension "batch".
inline ir::ValueInfo tensor_info(const std::string& name, DType type, const std::vector<int64_t>& dims) {
  return test::value_info(name, type, dims, "batch");
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
