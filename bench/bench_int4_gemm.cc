// INT4 block GEMM for many activation rows (prefill, issue 19): the streaming kernel (nibbles
// unpacked in the inner loop for every few rows), the unpacked kernel (a panel widened to bytes
// once per call), the requantized kernel (a panel requantized to int8 per column, activations
// per row, INT8's tiles) and the INT8 GEMM (runtime/qgemm, per-row activations, per-column
// weights) on the same shapes, each including its activation quantization as the fused ops run
// it. The variants alternate within every repetition, so a noisy machine slows all of them alike;
// medians in ms and the ratio to INT8. Shapes: the linear layers of gen_llama's 0.1 B model
// (hidden 768, FFN 2048, 4 key/value heads of 64, vocabulary 32000) at M rows.
//
// --cpu-time times the process's CPU seconds instead of the wall clock: on a shared machine a
// descheduled call then costs nothing extra (with 2 threads it is the sum of both threads' work).
//
// --split times each variant's activation quantization and its GEMM separately (unpacked and
// requantized INT4 and INT8 only), to tell which part a difference comes from.
//
//   bench_int4_gemm [--rows 1,8,64,256] [--threads 2] [--reps 9] [--cpu-time] [--split] [--json]
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "runtime/cpu.h"
#include "runtime/int4/int4_format.h"
#include "runtime/parallel.h"
#include "runtime/qgemm/qgemm.h"
#include "runtime/qgemm/quantize_act.h"

namespace {

using namespace ember::runtime;
using Clock = std::chrono::steady_clock;

struct Shape {
  const char* name;
  int64_t K, N;
};

std::vector<Shape> kShapes = {{"q/o proj", 768, 768}, {"k/v proj", 768, 256}, {"ffn gate/up", 768, 2048},
                         {"ffn down", 2048, 768}, {"lm head", 768, 32000}};

struct Options {
  std::vector<int> rows{1, 8, 64, 256};
  std::vector<int> threads{2};
  int reps = 9;
  bool cpu_time = false;
  bool split = false;
  bool json = false;
};

struct Layer {
  int4::Int4Weights w4;
  qgemm::PackedB w8;
  std::vector<float> w8_scales;
};

Layer make_layer(const Shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  int4::Int4Source src;
  src.K = s.K;
  src.N = s.N;
  src.codes.resize(size_t(s.K * s.N));
  for (auto& c : src.codes) c = static_cast<uint8_t>(rng() & 0xf);
  std::uniform_real_distribution<float> scale(0.001f, 0.01f);
  src.scales.resize(size_t(s.N * src.source_blocks()));
  for (auto& v : src.scales) v = scale(rng);
  std::vector<int8_t> b(size_t(s.K * s.N));
  for (auto& v : b) v = static_cast<int8_t>(int(rng() % 255) - 127);
  Layer layer{int4::Int4Weights::pack(src), qgemm::PackedB::pack(b.data(), false, true, s.K, s.N, s.K, nullptr), {}};
  layer.w8_scales.assign(size_t(s.N), 0.002f);
  return layer;
}

bool g_cpu_time = false;

// Seconds: the wall clock, or the process's CPU time (--cpu-time).
double now_seconds() {
  if (!g_cpu_time) return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// Median seconds of each call, the calls alternating in every repetition.
template <class... F>
std::vector<double> alternating_medians(int reps, F&&... calls) {
  std::vector<std::vector<double>> samples(sizeof...(calls));
  auto time_one = [](auto& call) {
    const double start = now_seconds();
    call();
    return now_seconds() - start;
  };
  (calls(), ...);  // warm-up: page faults, unpack buffers
  for (int r = 0; r < reps; ++r) {
    size_t i = 0;
    ((samples[i++].push_back(time_one(calls))), ...);
  }
  std::vector<double> medians;
  for (auto& s : samples) {
    std::nth_element(s.begin(), s.begin() + reps / 2, s.end());
    medians.push_back(s[size_t(reps / 2)]);
  }
  return medians;
}

struct Result {
  const Shape* shape;
  int64_t M;
  int threads;
  double streaming_ms, unpacked_ms, requant_ms, int8_ms;
  // --split: quantization and GEMM apart (streaming_ms is then unused).
  double int4_quantize_ms = 0, requant_quantize_ms = 0, int8_quantize_ms = 0;
};

Result measure(const Shape& s, const Layer& layer, int64_t M, int threads, int reps, bool split) {
  std::mt19937 rng{static_cast<uint32_t>(M)};
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(size_t(M * s.K));
  for (auto& v : x) v = normal(rng);
  std::vector<float> y(size_t(M * s.N));
  int4::Int4Activations a4;
  qgemm::QuantizedRows a8;
  qgemm::QGemmOutput out;
  out.f32 = y.data();
  out.ldc = s.N;
  out.b_scales = layer.w8_scales.data();
  auto int4_with = [&](int4::Int4Kernel kernel, int4::Int4ActForm form) {
    return [&, kernel, form] {
      a4.quantize(x.data(), M, s.K, layer.w4.scale_multiplier(), form);
      int4::int4_gemm(a4, layer.w4, nullptr, y.data(), s.N, kernel);
    };
  };
  using int4::Int4ActForm;
  using int4::Int4Kernel;
  auto int8 = [&] {
    a8.quantize_per_row(x.data(), M, s.K, false);
    qgemm::gemm_u8s8(a8.view(), layer.w8, out);
  };
  set_num_threads(threads);
  if (split) {
    int4::Int4Activations r4;
    auto quantize4 = [&] { a4.quantize(x.data(), M, s.K, layer.w4.scale_multiplier(), Int4ActForm::kBlocks); };
    auto gemm4 = [&] { int4::int4_gemm(a4, layer.w4, nullptr, y.data(), s.N, Int4Kernel::kUnpacked); };
    auto quantize_r = [&] { r4.quantize(x.data(), M, s.K, layer.w4.scale_multiplier(), Int4ActForm::kRows); };
    auto gemm_r = [&] { int4::int4_gemm(r4, layer.w4, nullptr, y.data(), s.N); };
    auto quantize8 = [&] { a8.quantize_per_row(x.data(), M, s.K, false); };
    auto gemm8 = [&] { qgemm::gemm_u8s8(a8.view(), layer.w8, out); };
    const std::vector<double> t = alternating_medians(reps, quantize4, gemm4, quantize_r, gemm_r, quantize8, gemm8);
    Result r{&s, M, threads, 0.0, t[1] * 1e3, t[3] * 1e3, t[5] * 1e3};
    r.int4_quantize_ms = t[0] * 1e3;
    r.requant_quantize_ms = t[2] * 1e3;
    r.int8_quantize_ms = t[4] * 1e3;
    return r;
  }
  const std::vector<double> t =
      alternating_medians(reps, int4_with(Int4Kernel::kStreaming, Int4ActForm::kBlocks),
                          int4_with(Int4Kernel::kUnpacked, Int4ActForm::kBlocks),
                          int4_with(Int4Kernel::kAuto, Int4ActForm::kRows), int8);
  return {&s, M, threads, t[0] * 1e3, t[1] * 1e3, t[2] * 1e3, t[3] * 1e3};
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      o.json = true;
    } else if (arg == "--cpu-time") {
      o.cpu_time = true;
    } else if (arg == "--split") {
      o.split = true;
    } else if (arg == "--reps" && i + 1 < argc) {
      o.reps = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--threads" && i + 1 < argc) {
      if (!ember::bench::parse_thread_list(argv[++i], o.threads)) return false;
    } else if (arg == "--shape" && i + 1 < argc) {
      long long K = 0, N = 0;
      if (std::sscanf(argv[++i], "%lldx%lld", &K, &N) != 2 || K <= 0 || N <= 0) return false;
      kShapes = {{"custom", K, N}};
    } else if (arg == "--rows" && i + 1 < argc) {
      if (!ember::bench::parse_thread_list(argv[++i], o.rows)) return false;
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
    std::fprintf(stderr, "usage: bench_int4_gemm [--rows 1,8,64,256] [--threads 2] [--reps 9] [--cpu-time] [--split] [--json]\n");
    return 2;
  }
  g_cpu_time = o.cpu_time;
  std::vector<Result> results;
  uint32_t seed = 1;
  for (const Shape& s : kShapes) {
    const Layer layer = make_layer(s, seed++);
    for (int M : o.rows)
      for (int t : o.threads) results.push_back(measure(s, layer, M, t, o.reps, o.split));
  }
  const std::string isa(isa_name(isa_level()));
  if (o.json) {
    std::printf("{\"isa\": \"%s\", \"results\": [", isa.c_str());
    for (size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      std::printf("%s{\"shape\": \"%s\", \"M\": %lld, \"K\": %lld, \"N\": %lld, \"threads\": %d, \"int4_streaming_ms\": %.4f, "
                  "\"int4_unpacked_ms\": %.4f, \"int4_requant_ms\": %.4f, \"int8_ms\": %.4f",
                  i ? ", " : "", r.shape->name, static_cast<long long>(r.M), static_cast<long long>(r.shape->K),
                  static_cast<long long>(r.shape->N), r.threads, r.streaming_ms, r.unpacked_ms, r.requant_ms, r.int8_ms);
      if (o.split)
        std::printf(", \"int4_quantize_ms\": %.4f, \"requant_quantize_ms\": %.4f, \"int8_quantize_ms\": %.4f",
                    r.int4_quantize_ms, r.requant_quantize_ms, r.int8_quantize_ms);
      std::printf("}");
    }
    std::printf("]}\n");
    return 0;
  }
  if (o.split) {
    std::printf("INT4 unpacked / requantized vs INT8 (ISA %s), median ms: activation quantization and GEMM apart\n",
                isa.c_str());
    std::printf("%-12s %5s %5s %5s %3s | %9s %9s | %9s %9s | %9s %9s | %9s %9s\n", "shape", "M", "K", "N", "thr", "unp quant",
                "unp gemm", "req quant", "req gemm", "int8 quant", "int8 gemm", "unp/int8", "req/int8");
    for (const Result& r : results)
      std::printf("%-12s %5lld %5lld %5lld %3d | %9.3f %9.3f | %9.3f %9.3f | %9.3f %9.3f | %9.2f %9.2f\n", r.shape->name,
                  static_cast<long long>(r.M), static_cast<long long>(r.shape->K), static_cast<long long>(r.shape->N),
                  r.threads, r.int4_quantize_ms, r.unpacked_ms, r.requant_quantize_ms, r.requant_ms, r.int8_quantize_ms,
                  r.int8_ms, r.unpacked_ms / r.int8_ms, r.requant_ms / r.int8_ms);
    return 0;
  }
  std::printf("INT4 block GEMM vs INT8 GEMM (ISA %s), median ms including activation quantization\n", isa.c_str());
  std::printf("%-12s %5s %5s %5s %3s | %9s %9s %9s %9s | %9s %9s %9s\n", "shape", "M", "K", "N", "thr", "streaming",
              "unpacked", "requant", "int8", "str/int8", "unp/int8", "req/int8");
  for (const Result& r : results)
    std::printf("%-12s %5lld %5lld %5lld %3d | %9.3f %9.3f %9.3f %9.3f | %9.2f %9.2f %9.2f\n", r.shape->name,
                static_cast<long long>(r.M), static_cast<long long>(r.shape->K), static_cast<long long>(r.shape->N),
                r.threads, r.streaming_ms, r.unpacked_ms, r.requant_ms, r.int8_ms, r.streaming_ms / r.int8_ms,
                r.unpacked_ms / r.int8_ms, r.requant_ms / r.int8_ms);
  return 0;
}
