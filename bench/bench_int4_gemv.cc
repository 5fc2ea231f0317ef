// INT4 block GEMV (runtime/int4), 4096 x 4096, block 32 with fp16 scales, over a rotating set
// of layers larger than the L3 cache, so every layer streams its weights from DRAM, as a
// decode step of a large LLM does. Each timed pass quantizes the activations and multiplies
// through all layers; the per-layer time is the pass time divided by the layer count.
// Reports median ms per layer, GB/s of weights read and the share of two bandwidth bounds:
// the one of ../shared/BENCHMARKS.md (0.24 ms on 1 core, 0.13 ms on 2, from its machine's
// 40 / 75 GB/s), and the one measured here in the same run: a plain streaming read of the same
// packed layers, split over the same threads the same way, whose median time per layer is the
// least this machine needs to move those bytes.
//
//   bench_int4_gemv [--threads 1,2] [--reps 30] [--layers 8] [--json]
//                   [--write-model PATH]   also writes the same chain of layers as an ONNX
//                                          model of com.microsoft MatMulNBits nodes, which
//                                          bench/int_models.sh times in onnxruntime and ember-rt
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "formats/onnx_save.h"
#include "bench/bench_args.h"
#include "runtime/cpu.h"
#include "runtime/int4/int4_format.h"
#include "runtime/parallel.h"

namespace {

using namespace ember;
using Clock = std::chrono::steady_clock;

constexpr int64_t kDim = 4096;
// Bandwidth bound per layer, from the machine's measured DRAM read bandwidth (BENCHMARKS.md).
double bound_ms(int threads) { return threads >= 2 ? 0.13 : 0.24; }

struct Options {
  std::vector<int> threads{1, 2};
  int reps = 30, layers = 8;
  bool json = false;
  std::string write_model;
};

runtime::int4::Int4Source random_layer(uint32_t seed) {
  std::mt19937 rng(seed);
  runtime::int4::Int4Source s;
  s.K = kDim;
  s.N = kDim;
  s.block_size = 32;
  s.codes.resize(size_t(kDim * kDim));
  for (size_t i = 0; i < s.codes.size(); i += 4) {
    const uint32_t r = rng();
    for (size_t j = 0; j < 4; ++j) s.codes[i + j] = static_cast<uint8_t>((r >> (8 * j)) & 0xf);
  }
  // Weights of variance ~1/K keep activations of a chain near unit scale.
  s.scales.assign(size_t(kDim * s.source_blocks()), 1.0f / (4.6f * 64.0f));
  return s;
}

// Layer i of the chain as MatMulNBits: B uint8 [N, K/32, 16] (low nibble first), scales [N * K/32].
void add_matmul_nbits(ir::Model& model, const runtime::int4::Int4Source& s, int index, const std::string& in,
                      const std::string& out) {
  const int64_t blocks = s.source_blocks();
  Tensor b = Tensor::zeros(DType::kU8, {s.N, blocks, 16});
  uint8_t* bytes = b.mutable_data<uint8_t>();
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t k = 0; k < s.K; ++k)
      bytes[n * blocks * 16 + k / 2] |= static_cast<uint8_t>(s.codes[size_t(n * s.K + k)] << (4 * (k % 2)));
  Tensor scales = Tensor::from_vector<float>({s.N * blocks}, s.scales);
  const std::string name = "layer" + std::to_string(index);
  model.graph.set_initializer(name + ".B", b);
  model.graph.set_initializer(name + ".scales", scales);
  ir::Node node;
  node.name = name;
  node.op_type = "MatMulNBits";
  node.domain = "com.microsoft";
  node.inputs = {in, name + ".B", name + ".scales"};
  node.outputs = {out};
  for (auto [attr, value] : {std::pair<const char*, int64_t>{"K", s.K}, {"N", s.N}, {"bits", 4}, {"block_size", 32}}) {
    ir::Attribute a;
    a.name = attr;
    a.kind = ir::AttrKind::kInt;
    a.i = value;
    node.attributes.push_back(a);
  }
  model.graph.nodes.push_back(node);
}

Status write_chain_model(const std::vector<runtime::int4::Int4Source>& layers, const std::string& path) {
  ir::Model model;
  model.ir_version = 8;
  model.producer_name = "ember bench_int4_gemv";
  model.opset_imports = {{"", 17}, {"com.microsoft", 1}};
  ir::ValueInfo x;
  x.name = "x";
  x.elem_type = DType::kF32;
  x.has_shape = true;
  x.dims = {{1, ""}, {kDim, ""}};
  model.graph.inputs.push_back(x);
  std::string prev = "x";
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string out = i + 1 == layers.size() ? "y" : "h" + std::to_string(i);
    add_matmul_nbits(model, layers[i], static_cast<int>(i), prev, out);
    prev = out;
  }
  ir::ValueInfo y = x;
  y.name = "y";
  model.graph.outputs.push_back(y);
  model.graph.name = "int4_gemv_chain";
  return formats::save_onnx(model, path);
}

struct Row {
  int threads;
  double ms_per_layer, gbps, bound_share, read_ms, read_share;
};

// A plain read of n bytes (a multiple of 32) with 256-bit loads into four accumulators and
// the kernel's software prefetch distance, so the loop itself is never the limit (a scalar
// loop without prefetch reached only 60-70% of the kernel's own rate).
__attribute__((target("avx2"))) uint64_t sum_words_avx2(const uint8_t* p, int64_t n) {
  constexpr int64_t kAhead = 32 * runtime::int4::kBlockBytes;
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  int64_t i = 0;
  for (; i + 128 <= n; i += 128) {
    __builtin_prefetch(p + i + kAhead);
    __builtin_prefetch(p + i + kAhead + 64);
    for (int j = 0; j < 4; ++j)
      acc[j] = _mm256_add_epi64(acc[j], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32 * j)));
  }
  for (; i + 32 <= n; i += 32) acc[0] = _mm256_add_epi64(acc[0], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_add_epi64(_mm256_add_epi64(acc[0], acc[1]), _mm256_add_epi64(acc[2], acc[3])));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

uint64_t sum_words_scalar(const uint8_t* p, int64_t n) {
  uint64_t acc[4] = {0, 0, 0, 0};
  for (int64_t i = 0; i + 32 <= n; i += 32)
    for (int j = 0; j < 4; ++j) {
      uint64_t v;
      std::memcpy(&v, p + i + 8 * j, sizeof v);
      acc[j] += v;
    }
  return acc[0] + acc[1] + acc[2] + acc[3];
}

// Sums every byte of the packed codes and scales of a layer, split over groups like int4_gemm:
// a read that does nothing else, to measure the machine's bandwidth for the same bytes. A
// thread's groups are contiguous, so it reads its codes, then its scales, as two spans.
uint64_t stream_layer(const runtime::int4::Int4Weights& w) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  auto sum = avx2 ? &sum_words_avx2 : &sum_words_scalar;
  std::vector<uint64_t> partial(size_t(w.groups()), 0);
  const int64_t code_bytes = w.blocks() * runtime::int4::kBlockBytes;
  const int64_t scale_bytes = w.blocks() * runtime::int4::kGroupRows * 2;
  runtime::parallel_for(w.groups(), 1, [&](int64_t g0, int64_t g1) {
    partial[size_t(g0)] = sum(w.codes(g0), code_bytes * (g1 - g0)) +
                          sum(reinterpret_cast<const uint8_t*>(w.scales(g0)), scale_bytes * (g1 - g0));
  });
  uint64_t total = 0;
  for (uint64_t v : partial) total += v;
  return total;
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      o.json = true;
    } else if (arg == "--reps" && i + 1 < argc) {
      o.reps = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--layers" && i + 1 < argc) {
      o.layers = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--write-model" && i + 1 < argc) {
      o.write_model = argv[++i];
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
    std::fprintf(stderr, "usage: bench_int4_gemv [--threads 1,2] [--reps N] [--layers N] [--json] [--write-model PATH]\n");
    return 2;
  }
  std::vector<runtime::int4::Int4Source> sources;
  std::vector<runtime::int4::Int4Weights> layers;
  for (int i = 0; i < o.layers; ++i) {
    sources.push_back(random_layer(static_cast<uint32_t>(i + 1)));
    layers.push_back(runtime::int4::Int4Weights::pack(sources.back()));
  }
  if (!o.write_model.empty()) {
    const Status st = write_chain_model(sources, o.write_model);
    if (!st.ok()) {
      std::fprintf(stderr, "bench_int4_gemv: %s\n", st.message().c_str());
      return 3;
    }
  }
  sources.clear();
  const double layer_bytes = static_cast<double>(layers[0].bytes());

  std::vector<float> x(kDim), y(kDim);
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& v : x) v = dist(rng);
  runtime::int4::Int4Activations act;

  std::vector<Row> rows;
  for (int threads : o.threads) {
    runtime::set_num_threads(threads);
    auto pass = [&] {
      for (const auto& w : layers) {
        act.quantize(x.data(), 1, kDim, w.scale_multiplier());
        runtime::int4::int4_gemm(act, w, nullptr, y.data(), kDim);
      }
    };
    pass();
    std::vector<double> ms;
    for (int r = 0; r < o.reps; ++r) {
      const auto start = Clock::now();
      pass();
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count() / o.layers);
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2];
    // The plain read of the same layers, alternating with the kernel's passes' rhythm.
    std::vector<double> read_ms;
    uint64_t sink = 0;
    for (int r = 0; r < o.reps; ++r) {
      const auto start = Clock::now();
      for (const auto& w : layers) sink += stream_layer(w);
      read_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count() / o.layers);
    }
    if (sink == 42) std::fprintf(stderr, " ");  // keeps the reads
    std::sort(read_ms.begin(), read_ms.end());
    const double read_median = read_ms[read_ms.size() / 2];
    rows.push_back({threads, median, layer_bytes / (median * 1e6), bound_ms(threads) / median, read_median,
                    read_median / median});
  }

  const std::string isa(runtime::isa_name(runtime::isa_level()));
  if (o.json) {
    std::printf("{\"isa\": \"%s\", \"layers\": %d, \"layer_mb\": %.2f, \"results\": [", isa.c_str(), o.layers, layer_bytes / 1e6);
    for (size_t i = 0; i < rows.size(); ++i)
      std::printf("%s{\"threads\": %d, \"ms_per_layer\": %.4f, \"gb_per_s\": %.2f, \"bound_ms\": %.2f, \"bound_share\": %.3f, "
                  "\"measured_read_ms\": %.4f, \"measured_read_gb_per_s\": %.2f, \"measured_bound_share\": %.3f}",
                  i ? ", " : "", rows[i].threads, rows[i].ms_per_layer, rows[i].gbps, bound_ms(rows[i].threads),
                  rows[i].bound_share, rows[i].read_ms, layer_bytes / (rows[i].read_ms * 1e6), rows[i].read_share);
    std::printf("]}\n");
  } else {
    std::printf("INT4 GEMV %lldx%lld, block 32, fp16 scales (ISA %s), %d layers of %.2f MB, median of %d passes\n",
                static_cast<long long>(kDim), static_cast<long long>(kDim), isa.c_str(), o.layers, layer_bytes / 1e6, o.reps);
    std::printf("%7s | %12s | %8s | %14s | %14s | %13s | %15s\n", "threads", "ms per layer", "GB/s", "BENCHMARKS.md bound ms",
                "% of that bound", "plain read ms", "% of measured");
    for (const Row& r : rows)
      std::printf("%7d | %12.4f | %8.2f | %22.2f | %14.1f%% | %8.4f (%4.1f GB/s) | %14.1f%%\n", r.threads, r.ms_per_layer, r.gbps,
                  bound_ms(r.threads), 100 * r.bound_share, r.read_ms, layer_bytes / (r.read_ms * 1e6), 100 * r.read_share);
  }
  return 0;
}
