// Ember's sgemm against OpenBLAS cblas_sgemm: 1024^3 and the GEMM shapes of a GPT-2 forward
// (kjv-gpt2: 256 tokens, width 384), of its backward pass and of its decode steps (M = 1), at
// 1 and 2 threads.
// Prints the median GFLOP/s of each and the ratio, as a table or (--json) as JSON.
//
//   bench_sgemm [--json] [--best] [--reps N] [--threads 1,2] [--only TEXT]
//
// --best reports the fastest run instead of the median: on a machine shared with other work
// it is the better estimate of what the code can do (JSON always carries both).
//
// OpenBLAS reads OPENBLAS_CORETYPE when it is loaded, so on an AVX-512 CPU the program re-runs
// itself with OPENBLAS_CORETYPE=SkylakeX unless the variable is already set (that core type
// would SIGILL without AVX-512, so elsewhere OpenBLAS keeps its own choice).
#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_args.h"
#include "runtime/cpu.h"
#include "runtime/gemm/sgemm.h"
#include "runtime/parallel.h"

extern "C" {
void openblas_set_num_threads(int num_threads);
char* openblas_get_corename(void);
}

namespace {

using ember::runtime::IsaLevel;

struct Shape {
  const char* name;
  int64_t M, N, K;
  bool trans_b;
  bool weights;  // B is a constant weight matrix, so the runtime multiplies it packed
  bool trans_a = false;  // A stored K x M: the weight gradients of the backward pass, X^T dY
};

const Shape kShapes[] = {
    {"square 1024", 1024, 1024, 1024, false, false},
    {"gpt2 qkv", 256, 1152, 384, false, true},
    {"gpt2 attn proj", 256, 384, 384, false, true},
    {"gpt2 mlp fc", 256, 1536, 384, false, true},
    {"gpt2 mlp proj", 256, 384, 1536, false, true},
    {"gpt2 lm head", 256, 256, 384, false, true},
    {"gpt2 scores QK^T", 256, 256, 64, true, false},
    {"gpt2 probs x V", 256, 64, 256, false, false},
    // The backward pass of importance over 128-token rows: dX = dY W^T against a packed
    // weight, and the weight gradients dW = X^T dY, reducing over the tokens.
    {"gpt2 fwd mlp fc t128", 128, 1536, 384, false, true},
    {"gpt2 dX mlp fc t128", 128, 384, 1536, true, true},
    {"gpt2 dW mlp fc t128", 384, 1536, 128, false, false, true},
    {"gpt2 fwd mlp proj t128", 128, 384, 1536, false, true},
    {"gpt2 dX mlp proj t128", 128, 1536, 384, true, true},
    {"gpt2 dW mlp proj t128", 1536, 384, 128, false, false, true},
    {"decode qkv", 1, 1152, 384, false, true},
    {"decode mlp fc", 1, 1536, 384, false, true},
    {"decode mlp proj", 1, 384, 1536, false, true},
    {"decode qkv B^T", 1, 1152, 384, true, true},
    {"gemv 4096", 1, 4096, 4096, false, true},
};

struct Options {
  bool json = false;
  bool best = false;
  int reps = 15;
  std::vector<int> threads{1, 2};
  std::string only;  // measure only the shapes whose name contains this
};

// GFLOP/s of the median and of the fastest run; 0 when not measured.
struct Rate {
  double median = 0, best = 0;
  double get(bool best_run) const { return best_run ? best : median; }
};

struct Row {
  const Shape* shape;
  int threads;
  Rate ember, ember_packed, openblas;
  Rate ember_bf16;  // GemmInputs::kBf16 (packed B for weights), where the CPU has AVX512-BF16
  double max_rel_diff;  // Ember against OpenBLAS, relative to max |C|
};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// GFLOP/s of `call` over reps samples; calls are batched so one sample lasts at least a
// millisecond.
template <class F>
Rate measure_rate(double flops, int reps, F&& call) {
  call();  // warm caches, threads and scratch buffers
  const Clock::time_point probe = Clock::now();
  call();
  const double once = std::max(seconds_since(probe), 1e-9);
  const int batch = static_cast<int>(std::clamp(1e-3 / once, 1.0, 10000.0));
  std::vector<double> samples;
  for (int r = 0; r < reps; ++r) {
    const Clock::time_point start = Clock::now();
    for (int i = 0; i < batch; ++i) call();
    samples.push_back(seconds_since(start) / batch);
  }
  std::sort(samples.begin(), samples.end());
  return Rate{flops / samples[reps / 2] * 1e-9, flops / samples[0] * 1e-9};
}

// Lets the other library's spinning worker threads go idle before timing.
void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(100)); }

std::vector<float> random_floats(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

Row measure(const Shape& s, int threads, int reps) {
  const int64_t M = s.M, N = s.N, K = s.K;
  const int64_t ldb = s.trans_b ? K : N;
  const int64_t lda = s.trans_a ? M : K;
  const std::vector<float> A = random_floats(M * K, 1), B = random_floats(K * N, 2);
  std::vector<float> c_ember(M * N), c_blas(M * N);
  const double flops = 2.0 * M * N * K;
  Row row{&s, threads, {}, {}, {}, {}, 0};

  ember::runtime::set_num_threads(threads);
  row.ember = measure_rate(flops, reps, [&] {
    ember::runtime::sgemm(s.trans_a, s.trans_b, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, c_ember.data(), N);
  });
  if (s.weights) {
    const auto packed = ember::runtime::PackedMatrixB::pack(s.trans_b, K, N, B.data(), ldb);
    std::vector<float> c_packed(M * N);
    row.ember_packed = measure_rate(flops, reps, [&] {
      ember::runtime::sgemm_packed(M, A.data(), K, packed, nullptr, c_packed.data(), N);
    });
  }
  if (ember::runtime::bf16_gemm_active()) {
    std::vector<float> c_bf16(M * N);
    const auto inputs = ember::runtime::GemmInputs::kBf16;
    if (s.weights) {
      const auto packed = ember::runtime::PackedMatrixB::pack(s.trans_b, K, N, B.data(), ldb, inputs);
      row.ember_bf16 = measure_rate(flops, reps, [&] {
        ember::runtime::sgemm_packed(M, A.data(), K, packed, nullptr, c_bf16.data(), N);
      });
    } else {
      row.ember_bf16 = measure_rate(flops, reps, [&] {
        ember::runtime::sgemm(s.trans_a, s.trans_b, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, c_bf16.data(),
                              N, inputs);
      });
    }
  }
  settle();

  openblas_set_num_threads(threads);
  row.openblas = measure_rate(flops, reps, [&] {
    cblas_sgemm(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans, s.trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                1.0f, A.data(), lda,
                B.data(), ldb, 0.0f, c_blas.data(), N);
  });
  settle();

  float max_abs = 0, max_diff = 0;
  for (int64_t i = 0; i < M * N; ++i) {
    max_abs = std::max(max_abs, std::fabs(c_blas[i]));
    max_diff = std::max(max_diff, std::fabs(c_blas[i] - c_ember[i]));
  }
  row.max_rel_diff = max_abs > 0 ? max_diff / max_abs : max_diff;
  return row;
}

void print_table(const std::vector<Row>& rows, const char* core, bool best) {
  std::printf("Ember sgemm (ISA %s) vs OpenBLAS (core %s), %s GFLOP/s\n\n",
              std::string(ember::runtime::isa_name(ember::runtime::isa_level())).c_str(), core,
              best ? "fastest-run" : "median");
  std::printf("%-22s %5s %5s %5s %3s %3s | %8s %8s %8s | %6s %6s | %8s | %8s\n", "shape", "M", "N", "K", "op", "thr",
              "ember", "packed", "openblas", "ratio", "packed", "max diff", "bf16");
  for (const Row& r : rows) {
    const Shape& s = *r.shape;
    const double ember = r.ember.get(best), packed = r.ember_packed.get(best), openblas = r.openblas.get(best);
    char packed_text[16] = "       -", packed_ratio[16] = "     -";
    if (packed > 0) {
      std::snprintf(packed_text, sizeof packed_text, "%8.1f", packed);
      std::snprintf(packed_ratio, sizeof packed_ratio, "%6.2f", packed / openblas);
    }
    char bf16_text[16] = "       -";
    if (r.ember_bf16.get(best) > 0) std::snprintf(bf16_text, sizeof bf16_text, "%8.1f", r.ember_bf16.get(best));
    std::printf("%-22s %5lld %5lld %5lld %3s %3d | %8.1f %s %8.1f | %6.2f %s | %8.1e | %s\n", s.name,
                static_cast<long long>(s.M), static_cast<long long>(s.N), static_cast<long long>(s.K),
                s.trans_a ? "A^T" : (s.trans_b ? "B^T" : "-"), r.threads, ember, packed_text, openblas, ember / openblas, packed_ratio,
                r.max_rel_diff, bf16_text);
  }
}

std::string json_rate(const Rate& r) {
  if (r.median <= 0) return "null";
  char text[64];
  std::snprintf(text, sizeof text, "{\"median\": %.2f, \"best\": %.2f}", r.median, r.best);
  return text;
}

void print_json(const std::vector<Row>& rows, const char* core, int reps) {
  std::printf("{\n  \"isa\": \"%s\",\n  \"openblas_core\": \"%s\",\n  \"reps\": %d,\n  \"results\": [\n",
              std::string(ember::runtime::isa_name(ember::runtime::isa_level())).c_str(), core, reps);
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const Shape& s = *r.shape;
    const std::string packed_ratio =
        r.ember_packed.median > 0 ? std::to_string(r.ember_packed.median / r.openblas.median) : "null";
    std::printf(
        "    {\"shape\": \"%s\", \"M\": %lld, \"N\": %lld, \"K\": %lld, \"trans_a\": %s, \"trans_b\": %s, "
        "\"threads\": %d, "
        "\"ember_gflops\": %s, \"ember_packed_gflops\": %s, \"openblas_gflops\": %s, \"ratio\": %.3f, "
        "\"packed_ratio\": %s, \"max_rel_diff\": %.3g, \"ember_bf16_gflops\": %s}%s\n",
        s.name, static_cast<long long>(s.M), static_cast<long long>(s.N), static_cast<long long>(s.K),
        s.trans_a ? "true" : "false", s.trans_b ? "true" : "false", r.threads, json_rate(r.ember).c_str(),
        json_rate(r.ember_packed).c_str(), json_rate(r.openblas).c_str(), r.ember.median / r.openblas.median, packed_ratio.c_str(), r.max_rel_diff,
        json_rate(r.ember_bf16).c_str(), i + 1 < rows.size() ? "," : "");
  }
  std::printf("  ]\n}\n");
}

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--best") {
      options.best = true;
    } else if (arg == "--reps" && i + 1 < argc) {
      options.reps = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--threads" && i + 1 < argc) {
      if (!ember::bench::parse_thread_list(argv[++i], options.threads)) return false;
    } else if (arg == "--only" && i + 1 < argc) {
      options.only = argv[++i];
    } else {
      return false;
    }
  }
  return !options.threads.empty();
}

}  // namespace

int main(int argc, char** argv) {
  if (!std::getenv("OPENBLAS_CORETYPE") && ember::runtime::isa_supported(IsaLevel::kAvx512)) {
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    execv("/proc/self/exe", argv);  // only returns on failure: go on with OpenBLAS's own choice
  }
  Options options;
  if (!parse_options(argc, argv, options)) {
    std::fprintf(stderr, "usage: %s [--json] [--best] [--reps N] [--threads 1,2] [--only TEXT]\n", argv[0]);
    return 2;
  }
  const char* core = openblas_get_corename();
  std::vector<Row> rows;
  for (const Shape& s : kShapes)
    if (std::string(s.name).find(options.only) != std::string::npos)
      for (int t : options.threads) rows.push_back(measure(s, t, options.reps));
  if (options.json) {
    print_json(rows, core, options.reps);
  } else {
    print_table(rows, core, options.best);
  }
  return 0;
}
