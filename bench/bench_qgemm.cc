// u8s8 -> s32 GEMM (runtime/qgemm) against oneDNN's dnnl_gemm_u8s8s32 when it is available
// (Debian libdnnl-dev; optional), and against the VPDPBUSD peak of BENCHMARKS.md (900 GOPS per
// core). Shapes: 1024^3 and the linear layers of kjv-gpt2 at 256 tokens and at one token.
// Ember multiplies weights packed at load time (as the interpreter does); oneDNN's gemm API
// takes plain matrices. Both write int32. Median GOPS (2 ops per multiply-add).
//
//   bench_qgemm [--threads 1,2] [--reps 15] [--json]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_args.h"
#include "runtime/cpu.h"
#include "runtime/parallel.h"
#include "runtime/qgemm/qgemm.h"
#include "runtime/qgemm/quantize_act.h"

#ifdef EMBER_HAVE_DNNL
#include <dnnl.h>
#endif

namespace {

using namespace ember::runtime;
using Clock = std::chrono::steady_clock;

constexpr double kVpdpbusdPeakGops = 900;  // per core, BENCHMARKS.md

struct Shape {
  const char* name;
  int64_t M, N, K;
};

const Shape kShapes[] = {
    {"square 1024", 1024, 1024, 1024}, {"gpt2 qkv", 256, 1152, 384},      {"gpt2 mlp fc", 256, 1536, 384},
    {"gpt2 mlp proj", 256, 384, 1536}, {"bert ffn [8192]", 8192, 1024, 256}, {"decode qkv", 1, 1152, 384},
    {"decode mlp proj", 1, 384, 1536},
};

struct Options {
  std::vector<int> threads{1, 2};
  int reps = 15;
  bool json = false;
};

template <class F>
double median_seconds(F&& call, int reps) {
  call();
  const auto probe = Clock::now();
  call();
  const double once = std::max(std::chrono::duration<double>(Clock::now() - probe).count(), 1e-9);
  const int batch = static_cast<int>(std::clamp(2e-3 / once, 1.0, 10000.0));
  std::vector<double> samples;
  for (int r = 0; r < reps; ++r) {
    const auto start = Clock::now();
    for (int i = 0; i < batch; ++i) call();
    samples.push_back(std::chrono::duration<double>(Clock::now() - start).count() / batch);
  }
  std::nth_element(samples.begin(), samples.begin() + reps / 2, samples.end());
  return samples[size_t(reps / 2)];
}

struct Row {
  const Shape* shape;
  int threads;
  double ember_gops, dnnl_gops;  // dnnl 0 when not available
  bool same_result;
};

Row measure(const Shape& s, int threads, int reps) {
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> a(size_t(s.M * s.K));
  std::vector<int8_t> b(size_t(s.K * s.N));
  for (auto& v : a) v = static_cast<uint8_t>(byte(rng));
  for (auto& v : b) v = static_cast<int8_t>(byte(rng) % 255 - 127);  // symmetric int8 weights: [-127, 127]
  const std::vector<int32_t> zero_rows(size_t(s.M), 0);
  qgemm::QuantizedRows rows;
  rows.copy(a.data(), false, s.M, s.K, zero_rows.data(), false);
  const qgemm::PackedB packed = qgemm::PackedB::pack(b.data(), false, false, s.K, s.N, s.N, nullptr);
  std::vector<int32_t> c_ember(size_t(s.M * s.N)), c_dnnl(size_t(s.M * s.N));
  qgemm::QGemmOutput out;
  out.i32 = c_ember.data();
  out.ldc = s.N;
  const double ops = 2.0 * double(s.M) * double(s.N) * double(s.K);

  set_num_threads(threads);
  Row row{&s, threads, 0, 0, true};
  row.ember_gops = ops / median_seconds([&] { qgemm::gemm_u8s8(rows.view(), packed, out); }, reps) * 1e-9;
#ifdef EMBER_HAVE_DNNL
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  omp_set_num_threads(threads);
  const int32_t co = 0;
  row.dnnl_gops = ops /
                  median_seconds(
                      [&] {
                        dnnl_gemm_u8s8s32('N', 'N', 'F', s.M, s.N, s.K, 1.0f, a.data(), s.K, 0, b.data(), s.N, 0, 0.0f,
                                          c_dnnl.data(), s.N, &co);
                      },
                      reps) *
                  1e-9;
  row.same_result = c_dnnl == c_ember;
#endif
  return row;
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      o.json = true;
    } else if (arg == "--reps" && i + 1 < argc) {
      o.reps = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--threads" && i + 1 < argc) {
      if (!ember::bench::parse_thread_list(argv[++i], o.threads)) return false;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr, "usage: bench_qgemm [--threads 1,2] [--reps N] [--json]\n");
    return 2;
  }
#ifdef EMBER_HAVE_DNNL
  const bool have_dnnl = true;
#else
  const bool have_dnnl = false;
#endif
  std::vector<Row> rows;
  for (const Shape& s : kShapes)
    for (int t : o.threads) rows.push_back(measure(s, t, o.reps));
  const std::string isa(isa_name(isa_level()));
  if (o.json) {
    std::printf("{\"isa\": \"%s\", \"onednn\": %s, \"vpdpbusd_peak_gops_per_core\": %.0f, \"results\": [", isa.c_str(),
                have_dnnl ? "true" : "false", kVpdpbusdPeakGops);
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      std::printf("%s{\"shape\": \"%s\", \"M\": %lld, \"N\": %lld, \"K\": %lld, \"threads\": %d, \"ember_gops\": %.1f, "
                  "\"onednn_gops\": %.1f, \"ratio\": %.3f, \"peak_share\": %.3f, \"same_result\": %s}",
                  i ? ", " : "", r.shape->name, static_cast<long long>(r.shape->M), static_cast<long long>(r.shape->N),
                  static_cast<long long>(r.shape->K), r.threads, r.ember_gops, r.dnnl_gops,
                  r.dnnl_gops > 0 ? r.ember_gops / r.dnnl_gops : 0.0, r.ember_gops / (kVpdpbusdPeakGops * r.threads),
                  r.same_result ? "true" : "false");
    }
    std::printf("]}\n");
    return 0;
  }
  std::printf("u8s8 -> s32 GEMM, Ember (ISA %s) vs %s, median GOPS\n", isa.c_str(),
              have_dnnl ? "oneDNN dnnl_gemm_u8s8s32" : "the VPDPBUSD peak (oneDNN not installed)");
  std::printf("%-16s %5s %5s %5s %3s | %8s %8s | %6s | %7s | %s\n", "shape", "M", "N", "K", "thr", "ember", "oneDNN", "ratio",
              "% peak", "same");
  for (const Row& r : rows)
    std::printf("%-16s %5lld %5lld %5lld %3d | %8.1f %8.1f | %6.2f | %6.1f%% | %s\n", r.shape->name,
                static_cast<long long>(r.shape->M), static_cast<long long>(r.shape->N), static_cast<long long>(r.shape->K),
                r.threads, r.ember_gops, r.dnnl_gops, r.dnnl_gops > 0 ? r.ember_gops / r.dnnl_gops : 0.0,
                100 * r.ember_gops / (kVpdpbusdPeakGops * r.threads), have_dnnl ? (r.same_result ? "yes" : "NO") : "-");
  return 0;
}
