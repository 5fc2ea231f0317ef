// Writes a Llama-shaped ONNX model with random weights in ONNX external data (bench/llama_model.h
// has the architecture), the large model the scale benchmarks measure on (issue 19).
//
//   gen_llama -o OUT.onnx [--params 1.0] [--hidden H --ffn F --layers L --heads NH --kv-heads KVH]
//             [--vocab 32000] [--max-seq 2048] [--seed 1]
//
// --params picks a shape family and the layer count closest to that many billion parameters;
// the other size flags override single dimensions. The weights go to OUT.onnx.data.
//
// Memory stays small at any size: the random weights are streamed into a scratch file beside
// the output, which is memory-mapped; the model's tensors view that mapping (page cache, not
// process memory) while save_onnx copies them into the external-data file; then the scratch file
// is deleted. Same flags give byte-identical files.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/llama_model.h"
#include "formats/mapped_file.h"
#include "formats/onnx_save.h"

namespace {

using namespace ember;

struct Options {
  std::string output;
  double params = 1.0;
  bench::LlamaConfig config;
  uint64_t seed = 1;
};

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t name_hash(const std::string& name) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char ch : name) h = (h ^ ch) * 1099511628211ull;
  return h;
}

// Uniform values of standard deviation `stddev` (half-width stddev * sqrt(3)), or ones.
void fill(float* out, size_t n, float stddev, uint64_t& state) {
  if (stddev == 0) {
    for (size_t i = 0; i < n; ++i) out[i] = 1.0f;
    return;
  }
  const float unit = stddev * std::sqrt(3.0f) / 2147483648.0f;
  size_t i = 0;
  for (; i + 1 < n; i += 2) {
    const uint64_t r = splitmix64(state);
    out[i] = float(int32_t(uint32_t(r))) * unit;
    out[i + 1] = float(int32_t(uint32_t(r >> 32))) * unit;
  }
  if (i < n) out[i] = float(int32_t(uint32_t(splitmix64(state)))) * unit;
}

// Streams every weight into `path`; returns their byte offsets.
Result<std::vector<size_t>> write_weights(const std::vector<bench::WeightSpec>& specs, uint64_t seed,
                                          const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return invalid_input("cannot create '" + path + "': " + std::strerror(errno));
  std::vector<float> buffer(size_t{1} << 20);
  std::vector<size_t> offsets;
  size_t offset = 0;
  bool ok = true;
  for (const auto& spec : specs) {
    offsets.push_back(offset);
    uint64_t state = seed ^ name_hash(spec.name);
    for (size_t left = size_t(shape_numel(spec.shape)); left > 0 && ok;) {
      const size_t n = std::min(left, buffer.size());
      fill(buffer.data(), n, spec.stddev, state);
      ok = std::fwrite(buffer.data(), sizeof(float), n, f) == n;
      left -= n;
      offset += n * sizeof(float);
    }
  }
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    std::remove(path.c_str());
    return invalid_input("writing '" + path + "' failed (disk full?)");
  }
  return offsets;
}

Status generate(const Options& o) {
  ir::Model model = bench::build_llama_graph(o.config);
  const auto specs = bench::llama_weight_specs(o.config);
  const std::string scratch = o.output + ".weights.tmp";
  EMBER_ASSIGN_OR_RETURN(std::vector<size_t> offsets, write_weights(specs, o.seed, scratch));
  auto mapped = formats::map_file(scratch);
  std::remove(scratch.c_str());  // the mapping keeps the data until it is released
  if (!mapped.ok()) return mapped.status();
  std::shared_ptr<formats::MappedFile> file = *mapped;
  for (size_t i = 0; i < specs.size(); ++i) {
    const size_t bytes = size_t(shape_numel(specs[i].shape)) * sizeof(float);
    model.graph.set_initializer(specs[i].name, Tensor::view(DType::kF32, specs[i].shape, file,
                                                            file->mutable_data() + offsets[i], bytes));
  }
  formats::SaveOptions save;
  save.external_data = true;
  return formats::save_onnx(model, o.output, save);
}

bool parse(int argc, char** argv, Options& o) {
  bool explicit_sizes[5] = {};
  bench::LlamaConfig overrides;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    char* end = nullptr;
    const double number = std::strtod(v, &end);
    if (a == "-o" || a == "--output") {
      o.output = v;
      continue;
    }
    if (end == v || *end != '\0' || number <= 0) return false;
    const int64_t n = int64_t(number);
    if (a == "--params") o.params = number;
    else if (a == "--seed") o.seed = uint64_t(n);
    else if (a == "--hidden") overrides.hidden = n, explicit_sizes[0] = true;
    else if (a == "--ffn") overrides.ffn = n, explicit_sizes[1] = true;
    else if (a == "--layers") overrides.layers = n, explicit_sizes[2] = true;
    else if (a == "--heads") overrides.heads = n, explicit_sizes[3] = true;
    else if (a == "--kv-heads") overrides.kv_heads = n, explicit_sizes[4] = true;
    else if (a == "--vocab") o.config.vocab = n;
    else if (a == "--max-seq") o.config.max_seq = n;
    else return false;
  }
  const bench::LlamaConfig family = bench::config_for_parameters(o.params);
  o.config.hidden = explicit_sizes[0] ? overrides.hidden : family.hidden;
  o.config.ffn = explicit_sizes[1] ? overrides.ffn : family.ffn;
  o.config.layers = explicit_sizes[2] ? overrides.layers : family.layers;
  o.config.heads = explicit_sizes[3] ? overrides.heads : family.heads;
  o.config.kv_heads = explicit_sizes[4] ? overrides.kv_heads : family.kv_heads;
  return !o.output.empty();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: gen_llama -o OUT.onnx [--params 1.0 (billions)] [--hidden H] [--ffn F] [--layers L]\n"
                 "                 [--heads NH] [--kv-heads KVH] [--vocab 32000] [--max-seq 2048] [--seed 1]\n");
    return 2;
  }
  if (const std::string e = bench::config_error(o.config); !e.empty()) {
    std::fprintf(stderr, "gen_llama: %s\n", e.c_str());
    return 2;
  }
  const auto& c = o.config;
  std::printf("llama: %.3f B parameters (%.2f GB fp32), hidden %lld, ffn %lld, layers %lld, heads %lld, kv heads %lld, vocab %lld\n",
              double(c.parameters()) / 1e9, double(c.parameters()) * 4 / 1e9, (long long)c.hidden, (long long)c.ffn,
              (long long)c.layers, (long long)c.heads, (long long)c.kv_heads, (long long)c.vocab);
  const Status s = generate(o);
  if (!s.ok()) {
    std::fprintf(stderr, "gen_llama: %s\n", s.message().c_str());
    return 2;
  }
  std::printf("wrote %s and %s.data\n", o.output.c_str(), o.output.c_str());
  return 0;
}
