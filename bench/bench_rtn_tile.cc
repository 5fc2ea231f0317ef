// RTN INT4 block 32 with the clipping search (rtn_stored.h) on one in-memory weight, against
// summing the same weight once, both on one thread (issue 19: RTN within 5x of reading the
// weights once). The weight stays in memory across runs, so no file reads are timed, only the
// quantizer's arithmetic, its reads of memory and its output; CPU seconds of the one thread,
// the fastest of --runs (on a shared machine the run least disturbed by others) and the median.
//
//   bench_rtn_tile [--k 2048] [--c 5632] [--runs 7] [--dist uniform|normal] [--block 32]
// Prints one JSON object: seconds per run of each, ns per weight, and the ratio.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "passes/analysis/layer_model.h"
#include "passes/quantize/rtn_stored.h"
#include "runtime/parallel.h"

namespace {

using namespace ember;

// CPU seconds of this thread: on a shared machine wall time mostly measures the others.
double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

template <class Fn>
std::vector<double> timed_runs(int runs, Fn&& fn) {
  std::vector<double> seconds;
  for (int r = 0; r < runs; ++r) {
    const double t0 = thread_cpu_seconds();
    fn();
    seconds.push_back(thread_cpu_seconds() - t0);
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t K = 2048, C = 5632, block = 32;
  int runs = 7;
  std::string dist = "uniform";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--k") K = std::atoll(v.c_str());
    else if (a == "--c") C = std::atoll(v.c_str());
    else if (a == "--runs") runs = std::max(1, std::atoi(v.c_str()));
    else if (a == "--dist") dist = v;
    else if (a == "--block") block = std::atoll(v.c_str());
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (K <= 0 || C <= 0 || C % 2 != 0 || block <= 0 || (dist != "uniform" && dist != "normal")) {
    std::fprintf(stderr, "need positive sizes, an even --c and --dist uniform|normal\n");
    return 2;
  }
  runtime::set_num_threads(1);
  passes::analysis::Layer layer;
  layer.weight = "w";
  layer.channel_axis = 1;  // stored [K, C], as MatMul weights are
  layer.channels = C;
  layer.reduction = K;
  layer.shape = Shape{K, C};
  Tensor w = Tensor::zeros(DType::kF32, layer.shape);
  float* p = w.mutable_data<float>();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t i = 0; i < K * C; ++i) p[i] = dist == "uniform" ? uniform(rng) : normal(rng);

  const passes::quant::QuantFormat f{4, true};
  double error = 0;
  const std::vector<double> rtn = timed_runs(runs, [&] {
    error = passes::quant::quantize_rtn_stored(layer, w, block, f, passes::quant::ClipMode::kMse).error;
  });
  volatile float sink = 0;
  const std::vector<double> read = timed_runs(runs, [&] {
    float acc[16] = {};
    for (int64_t i = 0; i + 16 <= K * C; i += 16)
      for (int j = 0; j < 16; ++j) acc[j] += p[i + j];
    float s = 0;
    for (float a : acc) s += a;
    sink = sink + s;
  });
  const double n = double(K * C);
  std::printf(
      "{\"k\": %lld, \"c\": %lld, \"block\": %lld, \"dist\": \"%s\", \"runs\": %d, \"relative_error\": %.6g, "
      "\"rtn_seconds\": {\"min\": %.5f, \"median\": %.5f}, \"read_seconds\": {\"min\": %.5f, \"median\": %.5f}, "
      "\"rtn_ns_per_weight\": %.3f, \"read_ns_per_weight\": %.3f, \"ratio_min\": %.2f}\n",
      static_cast<long long>(K), static_cast<long long>(C), static_cast<long long>(block), dist.c_str(), runs, error,
      rtn.front(), rtn[rtn.size() / 2], read.front(), read[read.size() / 2], rtn.front() / n * 1e9,
      read.front() / n * 1e9, rtn.front() / read.front());
  return 0;
}
