// ember-rt bench MODEL --input-shape name=1x256 ... [--threads N] [--runs N] [--json]
// Times inference on synthetic inputs: latency median and p90, tokens/s (for int64 token
// inputs), peak RSS, and the weight bytes an inference reads. --profile adds the time spent
// per op type (one extra run, timed between the interpreter's per-node callbacks).
// Start-up: load_ms (reading the model and preparing the kernels, with the packed-weight cache
// of deploy/pack_cache.h unless --no-pack-cache) and first_inference_ms (that plus the first run);
// --cold first evicts the model's files and its cache from the page cache (posix_fadvise), so
// they come from the disk. resident_mb is the memory the process holds after the runs.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "deploy/session.h"
#include "tools/ember-rt/rt_commands.h"
#include "deploy/pack_cache.h"
#include "formats/onnx_load.h"
#include "tools/ember-rt/rt_read_bandwidth.h"

namespace ember::rt {
namespace {

struct BenchOptions {
  std::string model, manifest;
  std::vector<std::string> shapes;
  int threads = 0, runs = 30, warmup = 3;
  bool json = false;
  bool profile = false;
  bool cold = false, no_pack_cache = false, read_bandwidth = false;
};

Result<Shape> parse_shape(const std::string& text) {
  Shape shape;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t x = text.find('x', start);
    const std::string part = text.substr(start, x == std::string::npos ? std::string::npos : x - start);
    try {
      size_t used = 0;
      const long long d = std::stoll(part, &used);
      if (d <= 0 || used != part.size() || d > (1LL << 24)) throw std::invalid_argument(part);
      shape.push_back(d);
    } catch (const std::exception&) {
      return invalid_input("bad shape '" + text + "' (expected e.g. 1x256, each dimension in [1, 16777216])");
    }
    if (shape.size() > 8 || shape_numel(shape) > (1LL << 28))
      return invalid_input("shape '" + text + "' is too large (at most 8 dimensions and 2^28 elements)");
    if (x == std::string::npos) break;
    start = x + 1;
  }
  return shape;
}

// Deterministic synthetic data: token ids in 0..255, masks of ones, floats in [-1, 1).
Tensor synthetic(const ir::ValueInfo& info, const Shape& shape) {
  Tensor t = Tensor::zeros(info.elem_type, shape);
  std::mt19937 rng(42);
  const int64_t n = t.numel();
  const bool mask = info.name.find("mask") != std::string::npos;
  if (info.elem_type == DType::kI64)
    for (int64_t i = 0; i < n; ++i) t.mutable_data<int64_t>()[i] = mask ? 1 : static_cast<int64_t>(rng() % 256);
  else if (info.elem_type == DType::kI32)
    for (int64_t i = 0; i < n; ++i) t.mutable_data<int32_t>()[i] = mask ? 1 : static_cast<int32_t>(rng() % 256);
  else if (info.elem_type == DType::kF32)
    for (int64_t i = 0; i < n; ++i) t.mutable_data<float>()[i] = std::uniform_real_distribution<float>(-1, 1)(rng);
  return t;
}

// Milliseconds per op type over one run: the time between consecutive node callbacks is
// charged to the node that produced the value (a node's later outputs add nothing).
Result<std::map<std::string, double>> profile_ops(runtime::Interpreter& interp, const std::map<std::string, Tensor>& feeds) {
  std::map<std::string, std::string> op_of;
  for (const auto& node : interp.model().graph.nodes)
    for (const auto& out : node.outputs) op_of[out] = node.domain.empty() ? node.op_type : node.domain + "." + node.op_type;
  std::map<std::string, double> ms;
  auto last = std::chrono::steady_clock::now();
  auto observer = [&](const std::string& value, const Tensor&) -> Status {
    const auto now = std::chrono::steady_clock::now();
    ms[op_of[value]] += std::chrono::duration<double, std::milli>(now - last).count();
    last = now;
    return Status::Ok();
  };
  auto out = interp.run(feeds, observer);
  if (!out.ok()) return out.status();
  return ms;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// Current resident set (VmRSS), in MB.
double resident_mb() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  double kb = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmRSS: %lf kB", &kb) == 1) break;
  std::fclose(f);
  return kb / 1024.0;
}

// Drops the model's files and its pack cache from the page cache (clean pages only; no root).
Status evict_from_page_cache(const std::string& model_path) {
  EMBER_ASSIGN_OR_RETURN(ir::Model model, formats::load_onnx(model_path));
  std::vector<std::string> files = deploy::model_files(model, model_path);
  files.push_back(model_path + ".ember-pack");
  for (const std::string& file : files) {
    const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
  }
  return Status::Ok();
}

// The weight bytes an inference streams: every initializer, except tables read only by
// Gathers (an embedding lookup reads a few rows of its table).
size_t streamed_weight_bytes(const ir::Graph& graph) {
  std::map<std::string, bool> gathered_only;
  for (const auto& node : graph.nodes) {
    const bool gather = node.op_type == "Gather" || node.op_type == "GatherDequantize";
    for (const auto& in : node.inputs)
      if (graph.initializers.count(in)) {
        auto [it, fresh] = gathered_only.emplace(in, gather);
        if (!fresh) it->second = it->second && gather;
      }
  }
  size_t bytes = 0;
  for (const auto& [name, t] : graph.initializers)
    if (!gathered_only[name]) bytes += t.nbytes();
  return bytes;
}

int bench(const BenchOptions& o) {
  for (Status st : {check_range("--threads", o.threads, 0, 4096), check_range("--warmup", o.warmup, 0, 100000),
                    check_range("--runs", o.runs, 1, 1000000)})
    if (!st.ok()) return report(st);
  if (o.cold)
    if (Status s = evict_from_page_cache(o.model); !s.ok()) return report(s);
  const auto load_start = std::chrono::steady_clock::now();
  auto interp = open_model(o.model, o.manifest, o.threads, false, "", !o.no_pack_cache);
  if (!interp.ok()) return report(interp.status());
  const deploy::PackCacheStats& cache = (*interp)->pack_cache();
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start).count();
  double first_inference_ms = 0;
  std::map<std::string, Shape> shapes;
  for (const auto& spec : o.shapes) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos) return report(invalid_input("--input-shape '" + spec + "' is not name=1x256"));
    auto shape = parse_shape(spec.substr(eq + 1));
    if (!shape.ok()) return report(shape.status());
    shapes[spec.substr(0, eq)] = *shape;
  }
  std::map<std::string, Tensor> feeds;
  int64_t tokens = 0;
  for (const auto* in : (*interp)->interpreter().feed_inputs()) {
    auto it = shapes.find(in->name);
    if (it == shapes.end()) return report(invalid_input("give --input-shape " + in->name + "=... for every model input"));
    feeds[in->name] = synthetic(*in, it->second);
    if (in->elem_type == DType::kI64 && in->name.find("mask") == std::string::npos) tokens = shape_numel(it->second);
  }
  const size_t weight_bytes = streamed_weight_bytes((*interp)->interpreter().model().graph);
  std::vector<double> ms;
  for (int r = 0; r < o.warmup + o.runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    auto out = (*interp)->run(feeds);
    const double elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!out.ok()) return report(out.status());
    if (r == 0) first_inference_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start).count();
    if (r >= o.warmup) ms.push_back(elapsed);
  }
  const double peak_rss = peak_rss_mb();  // before --read-bandwidth's buffer
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  const double p90 = ms[std::min(ms.size() - 1, ms.size() * 9 / 10)];
  const deploy::EnergyReport energy = (*interp)->energy();
  const double joules = energy.joules_per_inference();
  const double watts = energy.average_watts();
  nlohmann::json j = {{"model", o.model}, {"threads", (*interp)->threads()}, {"backend", (*interp)->backend_name()},
                      {"joules_per_inference", joules}, {"average_watts", watts},
                      {"energy", energy.measured ? "measured" : "estimated"}, {"energy_source", energy.source}, {"runs", o.runs}, {"median_ms", median}, {"p90_ms", p90},
                      {"min_ms", ms.front()}, {"tokens_per_s", tokens > 0 ? tokens / (median / 1000) : 0.0},
                      {"peak_rss_mb", peak_rss}, {"weight_bytes_per_inference", weight_bytes},
                      {"load_ms", load_ms}, {"first_inference_ms", first_inference_ms}, {"cold", o.cold},
                      {"resident_mb", resident_mb()},
                      {"pack_cache", {{"used", cache.used}, {"written", cache.written}, {"hits", cache.hits}, {"misses", cache.misses}}}};
  if (o.read_bandwidth) {
    // Weights streamed per inference against a plain read on the same threads, same run.
    const double read = measure_read_gbps(weight_bytes);
    const double weights_gbps = double(weight_bytes) / (median / 1000) / 1e9;
    j["read_gbps"] = read;
    j["weights_gbps"] = weights_gbps;
    j["share_of_read"] = read > 0 ? weights_gbps / read : 0.0;
    if (!o.json)
      std::printf("weights streamed at %.1f GB/s = %.0f%% of the %.1f GB/s plain read measured now\n", weights_gbps,
                  100 * weights_gbps / read, read);
  }
  if (o.profile) {
    auto per_op = profile_ops((*interp)->interpreter(), feeds);
    if (!per_op.ok()) return report(per_op.status());
    std::vector<std::pair<double, std::string>> rows;
    for (const auto& [op, t] : *per_op) rows.emplace_back(t, op);
    std::sort(rows.rbegin(), rows.rend());
    j["profile_ms"] = *per_op;
    if (!o.json)
      for (const auto& [t, op] : rows) std::printf("  %-32s %9.3f ms\n", op.c_str(), t);
  }
  if (o.json)
    std::printf("%s\n", j.dump(2).c_str());
  else
  {
    std::printf("median %.3f ms  p90 %.3f ms  min %.3f ms  %.0f tokens/s  peak RSS %.1f MB  weights read %.2f MB/inference\n", median,
                p90, ms.front(), j["tokens_per_s"].get<double>(), peak_rss, weight_bytes / 1e6);
    std::printf("%s, %d threads; energy %.6f J/inference, %.2f W average (%s: %s)\n", (*interp)->backend_name().c_str(),
                (*interp)->threads(), joules, watts, energy.measured ? "measured" : "estimated", energy.source.c_str());
    std::printf("start-up%s: load %.0f ms, first inference %.0f ms; resident %.1f MB; pack cache %s (%zu hits, %zu packed%s)\n",
                o.cold ? " (cold page cache)" : "", load_ms, first_inference_ms, resident_mb(),
                o.no_pack_cache ? "off" : cache.used ? "used" : "not found", cache.hits, cache.misses,
                cache.written ? ", written" : "");
  }
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* sub = app.add_subcommand("bench", "Time inference on synthetic inputs (median, p90, tokens/s, peak RSS)");
  sub->add_option("model", o->model, "The ONNX model")->required();
  sub->add_option("--manifest", o->manifest, "The model's manifest.json; the model's sha256 must match it");
  sub->add_option("--input-shape", o->shapes, "Shape of an input as name=1x256 (repeat per input)")->required();
  sub->add_option("--threads", o->threads, "Worker threads (0 = the manifest's figure, else all cores; clamped to the cores available)")->default_val(0);
  sub->add_option("--runs", o->runs, "Timed runs (the median is reported; 1..1000000)")->default_val(30);
  sub->add_option("--warmup", o->warmup, "Untimed runs first (0..100000)")->default_val(3);
  sub->add_flag("--json", o->json, "Print JSON");
  sub->add_flag("--cold", o->cold, "Evict the model's files and pack cache from the page cache first (cold start)");
  sub->add_flag("--read-bandwidth", o->read_bandwidth,
                "Also measure a plain read of as many bytes as the weights on the same threads, and the weights' share of it");
  sub->add_flag("--no-pack-cache", o->no_pack_cache, "Pack every weight at load; neither read nor write MODEL.ember-pack");
  sub->add_flag("--profile", o->profile, "Also time one more run per op type (milliseconds, largest first)");
  sub->final_callback([o, &exit_code] { exit_code = bench(*o); });
}

}  // namespace ember::rt
