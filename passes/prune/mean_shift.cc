#include "passes/prune/mean_shift.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "passes/graph_edit.h"
#include "runtime/interpreter.h"

namespace ember::passes::prune {
namespace {

// Per-channel means (last axis of width `width`) of the values `names` over the first batches.
Result<std::map<std::string, std::vector<double>>> channel_means(const ir::Model& model, const calibration::CalibrationSet& calib,
                                                                 const std::map<std::string, int64_t>& names, int64_t batches) {
  EMBER_ASSIGN_OR_RETURN(auto interp, runtime::Interpreter::create(model));
  std::map<std::string, std::vector<double>> sums;
  std::map<std::string, int64_t> rows;
  runtime::ValueObserver observer = [&](const std::string& name, const Tensor& t) -> Status {
    auto it = names.find(name);
    if (it == names.end() || t.dtype() != DType::kF32 || t.rank() < 1 || t.dim(t.rank() - 1) != it->second) return Status::Ok();
    std::vector<double>& s = sums[name];
    s.resize(size_t(it->second), 0.0);
    const float* v = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) s[size_t(i % it->second)] += v[i];
    rows[name] += t.numel() / it->second;
    return Status::Ok();
  };
  for (int64_t b = 0; b < std::min<int64_t>(batches, calib.num_batches()); ++b) {
    auto run = interp->run(calib.batch(b), observer);
    if (!run.ok()) return run.status();
  }
  for (auto& [name, s] : sums)
    for (double& v : s) v /= static_cast<double>(std::max<int64_t>(1, rows[name]));
  return sums;
}

// The value a consumer's output is added into: the output of its only reader when that is an Add.
// Reshapes between them (a 2-D Gemm's output brought back to [1, seq, M]) are followed.
std::string residual_target(const ir::Graph& graph, const ValueReaders& readers, const std::string& output) {
  std::string value = output;
  for (int hops = 0; hops < 4; ++hops) {
    auto it = readers.find(value);
    if (it == readers.end() || it->second.size() != 1) return output;
    const ir::Node& n = graph.nodes[it->second[0].node];
    if (n.outputs.size() != 1) return output;
    if (n.op_type == "Add") return n.outputs[0];
    if (n.op_type != "Reshape" || it->second[0].input != 0) return output;
    value = n.outputs[0];
  }
  return output;
}

}  // namespace

Result<MeanShiftReport> correct_mean_shift(const ir::Model& original, ir::Model& pruned, const calibration::CalibrationSet& calib,
                                           const std::vector<analysis::Layer>& consumers, int64_t batches) {
  MeanShiftReport report;
  const ValueReaders readers = value_readers(pruned.graph);
  std::map<std::string, size_t> position;
  for (size_t i = 0; i < pruned.graph.nodes.size(); ++i) position[pruned.graph.nodes[i].name] = i;
  std::vector<std::pair<size_t, const analysis::Layer*>> order;
  for (const analysis::Layer& c : consumers) order.emplace_back(position.count(c.node) ? position[c.node] : 0, &c);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::map<std::string, int64_t> targets;  // value -> width
  std::vector<std::string> target_of;
  for (const auto& [pos, c] : order) {
    target_of.push_back(residual_target(pruned.graph, readers, c->output));
    targets[target_of.back()] = c->channels;
  }
  EMBER_ASSIGN_OR_RETURN(const auto reference, channel_means(original, calib, targets, batches));
  double shift_sum = 0;
  int64_t shifted = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const analysis::Layer& c = *order[i].second;
    auto bias_readers = readers.find(c.bias);
    const Tensor* bias = c.bias.empty() ? nullptr : pruned.graph.find_initializer(c.bias);
    auto ref = reference.find(target_of[i]);
    if (!bias || bias->numel() != c.channels || bias_readers == readers.end() || bias_readers->second.size() != 1 || ref == reference.end()) {
      report.skipped.push_back(c.node);
      continue;
    }
    EMBER_ASSIGN_OR_RETURN(const auto now, channel_means(pruned, calib, {{target_of[i], c.channels}}, batches));
    auto cur = now.find(target_of[i]);
    if (cur == now.end()) {
      report.skipped.push_back(c.node);
      continue;
    }
    std::vector<float> b(bias->data<float>(), bias->data<float>() + bias->numel());
    for (int64_t k = 0; k < c.channels; ++k) {
      const double d = ref->second[size_t(k)] - cur->second[size_t(k)];
      b[size_t(k)] += static_cast<float>(d);
      shift_sum += std::fabs(d), ++shifted;
    }
    pruned.graph.set_initializer(c.bias, Tensor::from_vector<float>(bias->shape(), b));
    report.corrected.push_back(c.node);
  }
  report.mean_abs_shift = shifted == 0 ? 0.0 : shift_sum / static_cast<double>(shifted);
  return report;
}

}  // namespace ember::passes::prune
