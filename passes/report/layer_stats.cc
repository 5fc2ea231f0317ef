#include "passes/report/layer_stats.h"

#include <cmath>
#include <limits>
#include <set>

#include "runtime/interpreter.h"

namespace ember::passes {
namespace {

double sqnr_db(const Tensor& ref, const Tensor& got) {
  auto r = ref.to_floats();
  auto g = got.to_floats();
  if (!r.ok() || !g.ok() || r->size() != g->size()) return std::numeric_limits<double>::quiet_NaN();
  double signal = 0, noise = 0;
  for (size_t i = 0; i < r->size(); ++i) {
    signal += double((*r)[i]) * (*r)[i];
    noise += double((*r)[i] - (*g)[i]) * ((*r)[i] - (*g)[i]);
  }
  if (noise == 0) return std::numeric_limits<double>::infinity();
  return 10 * std::log10(signal / noise);
}

// MACs of a layer from its output shape: one multiply-add per output element and reduced input.
double layer_macs(const TensorScheme& s, const Tensor& out, const ir::Model& model) {
  if (s.layer_op == "Gather") return 0;
  const Tensor* w = model.graph.find_initializer(s.weight);
  if (!w) return 0;
  double reduced = 1;
  if (s.layer_op == "Conv" || s.layer_op == "ConvInteger") {
    for (int i = 1; i < w->rank(); ++i) reduced *= static_cast<double>(w->dim(i));
  } else {
    reduced = static_cast<double>(s.parameters) / std::max<double>(1, static_cast<double>(out.shape().empty() ? 1 : out.shape().back()));
  }
  return static_cast<double>(out.numel()) * reduced;
}

void add_work(runtime::WorkEstimate& work, const TensorScheme& s, double macs, const Tensor& out) {
  if (s.layer_op == "Gather")  // only the rows looked up are read
    work.weight_bytes += static_cast<double>(s.bytes) / std::max<double>(1, static_cast<double>(s.parameters)) * static_cast<double>(out.numel());
  else
    work.weight_bytes += static_cast<double>(s.bytes);
  (s.bits <= 8 ? work.int8_macs : work.fp32_macs) += macs;
}

}  // namespace

Result<ModelStats> measure_layers(const ir::Model& fp32, const ir::Model& compressed, const std::map<std::string, Tensor>& feeds) {
  ModelStats stats;
  const auto fp32_schemes = describe_weight_schemes(fp32);
  const auto schemes = describe_weight_schemes(compressed);
  std::set<std::string> fp32_values;  // every value the FP32 graph computes
  for (const auto& n : fp32.graph.nodes) fp32_values.insert(n.outputs.begin(), n.outputs.end());
  std::vector<std::string> names;
  std::set<std::string> fp32_fetch;
  for (const auto& s : fp32_schemes) fp32_fetch.insert(s.layer_output);
  for (const auto& s : schemes)
    if (fp32_values.count(s.layer_output)) {
      names.push_back(s.layer_output);
      fp32_fetch.insert(s.layer_output);
    }
  const std::vector<std::string> fp32_names(fp32_fetch.begin(), fp32_fetch.end());
  runtime::InterpreterOptions io;
  io.fold_constants = false;  // keep every layer node, so its output can be fetched
  EMBER_ASSIGN_OR_RETURN(auto ref_interp, runtime::Interpreter::create(fp32, io));
  EMBER_ASSIGN_OR_RETURN(auto ref, ref_interp->run_and_fetch(feeds, fp32_names));
  EMBER_ASSIGN_OR_RETURN(auto got_interp, runtime::Interpreter::create(compressed, io));
  EMBER_ASSIGN_OR_RETURN(auto got, got_interp->run_and_fetch(feeds, names));
  for (const auto& s : fp32_schemes) {
    const double macs = layer_macs(s, ref.at(s.layer_output), fp32);
    add_work(stats.fp32_work, s, macs, ref.at(s.layer_output));
  }
  for (const auto& s : schemes) {
    LayerStats layer;
    layer.scheme = s;
    auto it = got.find(s.layer_output);
    if (it == got.end()) {
      layer.sqnr_db = std::numeric_limits<double>::quiet_NaN();
    } else {
      layer.sqnr_db = sqnr_db(ref.at(s.layer_output), it->second);
      const TensorScheme* original = nullptr;
      for (const auto& f : fp32_schemes)
        if (f.layer_output == s.layer_output) original = &f;
      layer.macs = original ? layer_macs(*original, ref.at(s.layer_output), fp32) : layer_macs(s, it->second, compressed);
      add_work(stats.compressed_work, s, layer.macs, it->second);
    }
    stats.layers.push_back(layer);
  }
  stats.fp32_microjoules = runtime::estimate_microjoules(stats.fp32_work);
  stats.compressed_microjoules = runtime::estimate_microjoules(stats.compressed_work);
  return stats;
}

}  // namespace ember::passes
