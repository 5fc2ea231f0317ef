#include "calibration/fidelity.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace ember::calibration {
namespace {

// log-softmax of a row in double precision.
std::vector<double> log_softmax(const float* x, int64_t width) {
  double max = -INFINITY;
  for (int64_t i = 0; i < width; ++i) max = std::max(max, static_cast<double>(x[i]));
  double sum = 0;
  for (int64_t i = 0; i < width; ++i) sum += std::exp(static_cast<double>(x[i]) - max);
  const double log_sum = std::log(sum) + max;
  std::vector<double> out(static_cast<size_t>(width));
  for (int64_t i = 0; i < width; ++i) out[static_cast<size_t>(i)] = static_cast<double>(x[i]) - log_sum;
  return out;
}

int64_t last_dim(const Shape& shape) { return shape.empty() ? 1 : shape.back(); }

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const ir::Node* producer(const ir::Graph& graph, const std::string& value) {
  for (const auto& node : graph.nodes)
    for (const auto& out : node.outputs)
      if (out == value) return &node;
  return nullptr;
}

// The node behind an output, looking through ops that only move or relabel values.
const ir::Node* source_op(const ir::Graph& graph, const std::string& value) {
  static const std::vector<std::string> views = {"Reshape", "Squeeze", "Unsqueeze", "Identity", "Flatten", "Cast"};
  const ir::Node* node = producer(graph, value);
  for (int hops = 0; node && hops < 8; ++hops) {
    if (std::find(views.begin(), views.end(), node->op_type) == views.end() || node->inputs.empty()) break;
    node = producer(graph, node->inputs[0]);
  }
  return node;
}

bool is_linear(const ir::Node* node) { return node && (node->op_type == "MatMul" || node->op_type == "Gemm"); }

}  // namespace

Result<FidelityMetric> parse_fidelity_metric(const std::string& name) {
  if (name == "kl") return FidelityMetric::kKl;
  if (name == "top1") return FidelityMetric::kTop1;
  if (name == "sqnr") return FidelityMetric::kSqnr;
  if (name == "cosine") return FidelityMetric::kCosine;
  if (name == "expected-accuracy") return FidelityMetric::kExpectedAccuracy;
  return invalid_input("unknown fidelity metric '" + name + "' (kl, top1, sqnr, cosine, expected-accuracy)");
}

bool is_fidelity_metric(const std::string& name) { return parse_fidelity_metric(name).ok(); }

const char* fidelity_metric_name(FidelityMetric metric) {
  switch (metric) {
    case FidelityMetric::kKl: return "kl";
    case FidelityMetric::kTop1: return "top1";
    case FidelityMetric::kSqnr: return "sqnr";
    case FidelityMetric::kCosine: return "cosine";
    case FidelityMetric::kExpectedAccuracy: return "expected-accuracy";
  }
  return "?";
}

bool higher_is_better(FidelityMetric metric) {
  return metric != FidelityMetric::kKl && metric != FidelityMetric::kExpectedAccuracy;
}

double row_kl(const float* reference, const float* candidate, int64_t width) {
  const std::vector<double> lp = log_softmax(reference, width), lq = log_softmax(candidate, width);
  double kl = 0;
  for (size_t i = 0; i < lp.size(); ++i) kl += std::exp(lp[i]) * (lp[i] - lq[i]);
  return std::max(kl, 0.0);  // rounding can leave -1e-17 for identical rows
}

double row_cosine(const float* reference, const float* candidate, int64_t width) {
  double dot = 0, rr = 0, cc = 0;
  for (int64_t i = 0; i < width; ++i) {
    dot += static_cast<double>(reference[i]) * candidate[i];
    rr += static_cast<double>(reference[i]) * reference[i];
    cc += static_cast<double>(candidate[i]) * candidate[i];
  }
  if (rr == 0 && cc == 0) return 1;
  if (rr == 0 || cc == 0) return 0;
  return dot / std::sqrt(rr * cc);
}

int64_t row_argmax(const float* values, int64_t width) {
  int64_t best = 0;
  for (int64_t i = 1; i < width; ++i)
    if (values[i] > values[best]) best = i;
  return best;
}

double row_expected_accuracy_drop(const float* reference, const float* candidate, int64_t width) {
  const std::vector<double> lp = log_softmax(reference, width);
  const size_t a = static_cast<size_t>(row_argmax(reference, width)), b = static_cast<size_t>(row_argmax(candidate, width));
  return std::exp(lp[a]) - std::exp(lp[b]);  // >= 0: a is the most probable class under p
}

namespace {

// A candidate that knows nothing guesses uniformly: right with probability 1/width.
double uniform_guess_drop(const float* reference, int64_t width) {
  const std::vector<double> lp = log_softmax(reference, width);
  return std::exp(lp[static_cast<size_t>(row_argmax(reference, width))]) - 1.0 / static_cast<double>(width);
}

}  // namespace

void FidelityMeter::add_mismatch(const std::vector<float>& reference, int64_t width) {
  const int64_t rows = width > 0 ? static_cast<int64_t>(reference.size()) / width : 0;
  const std::vector<float> uniform(static_cast<size_t>(std::max<int64_t>(width, 0)), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    if (metric_ == FidelityMetric::kKl) sum_ += row_kl(reference.data() + r * width, uniform.data(), width);
    else if (metric_ == FidelityMetric::kExpectedAccuracy) sum_ += uniform_guess_drop(reference.data() + r * width, width);
  rows_ += rows;  // top1 and cosine: no agreement, nothing added to the sum
  for (float v : reference) {  // sqnr: the whole reference counts as noise
    signal_ += static_cast<double>(v) * v;
    noise_ += static_cast<double>(v) * v;
  }
}

void FidelityMeter::add(const std::vector<float>& reference, const Shape& reference_shape, const std::vector<float>& candidate,
                        const Shape& candidate_shape) {
  const int64_t width = last_dim(reference_shape);
  if (reference_shape != candidate_shape || reference.size() != candidate.size()) return add_mismatch(reference, width);
  if (metric_ == FidelityMetric::kSqnr) {
    for (size_t i = 0; i < reference.size(); ++i) {
      const double r = reference[i], d = r - static_cast<double>(candidate[i]);
      signal_ += r * r;
      noise_ += d * d;
    }
    return;
  }
  const int64_t rows = width > 0 ? static_cast<int64_t>(reference.size()) / width : 0;
  for (int64_t row = 0; row < rows; ++row) {
    const float* r = reference.data() + row * width;
    const float* c = candidate.data() + row * width;
    if (metric_ == FidelityMetric::kKl) sum_ += row_kl(r, c, width);
    if (metric_ == FidelityMetric::kTop1) sum_ += row_argmax(r, width) == row_argmax(c, width) ? 1 : 0;
    if (metric_ == FidelityMetric::kCosine) sum_ += row_cosine(r, c, width);
    if (metric_ == FidelityMetric::kExpectedAccuracy) sum_ += row_expected_accuracy_drop(r, c, width);
  }
  rows_ += rows;
}

double FidelityMeter::value() const {
  if (metric_ == FidelityMetric::kSqnr) {
    if (noise_ == 0) return kSqnrCapDb;
    if (signal_ == 0) return -kSqnrCapDb;
    return std::clamp(10 * std::log10(signal_ / noise_), -kSqnrCapDb, kSqnrCapDb);
  }
  if (rows_ == 0) return higher_is_better(metric_) ? 1 : 0;  // nothing to disagree on
  return sum_ / static_cast<double>(rows_);
}

Result<FidelityReference> capture_reference(runtime::Interpreter& fp32, const CalibrationSet& held_back) {
  FidelityReference ref;
  for (const auto& out : fp32.model().graph.outputs) ref.output_names.push_back(out.name);
  for (int64_t b = 0; b < held_back.num_batches(); ++b) {
    std::map<std::string, Tensor> feeds = held_back.batch(b);
    auto outputs = fp32.run(feeds);
    if (!outputs.ok()) return outputs.status().with_context("running the FP32 model on held-back row batch " + std::to_string(b));
    if (ref.scored.empty())
      for (const auto& t : *outputs) ref.scored.push_back(t.defined() && traits(t.dtype()).is_float);
    ref.feeds.push_back(std::move(feeds));
    ref.outputs.push_back(std::move(*outputs));
  }
  ref.rows = held_back.num_rows();
  if (std::find(ref.scored.begin(), ref.scored.end(), true) == ref.scored.end())
    return invalid_input("the model has no float output to compare: a fidelity budget needs one (use a task metric with --eval)");
  return ref;
}

Result<double> measure_fidelity(runtime::Interpreter& candidate, const FidelityReference& reference, FidelityMetric metric) {
  std::vector<FidelityMeter> meters(reference.scored.size(), FidelityMeter(metric));
  for (size_t b = 0; b < reference.feeds.size(); ++b) {
    EMBER_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, candidate.run(reference.feeds[b]));
    if (outputs.size() != reference.scored.size())
      return invalid_input("the candidate has " + std::to_string(outputs.size()) + " outputs, the FP32 model " +
                           std::to_string(reference.scored.size()));
    for (size_t o = 0; o < outputs.size(); ++o) {
      if (!reference.scored[o]) continue;
      const Tensor& r = reference.outputs[b][o];
      const Tensor& c = outputs[o];
      EMBER_ASSIGN_OR_RETURN(std::vector<float> rv, r.to_floats());
      std::vector<float> cv;
      if (c.defined() && traits(c.dtype()).is_float) {
        EMBER_ASSIGN_OR_RETURN(cv, c.to_floats());
      }
      meters[o].add(rv, r.shape(), cv, c.defined() ? c.shape() : Shape{});
    }
  }
  double worst = 0;
  bool first = true;
  for (size_t o = 0; o < meters.size(); ++o) {
    if (!reference.scored[o]) continue;
    const double v = meters[o].value();
    if (first || (higher_is_better(metric) ? v < worst : v > worst)) worst = v;
    first = false;
  }
  return worst;
}

Status check_metric_fits(FidelityMetric metric, const FidelityReference& reference) {
  if (metric == FidelityMetric::kSqnr || reference.outputs.empty()) return Status::Ok();
  for (size_t o = 0; o < reference.scored.size(); ++o) {
    if (!reference.scored[o]) continue;
    const Shape& shape = reference.outputs[0][o].shape();
    if (last_dim(shape) < 2)
      return invalid_input(std::string("the fidelity metric '") + fidelity_metric_name(metric) + "' compares rows along the last axis, but output '" +
                           reference.output_names[o] + "' is " + shape_to_string(shape) +
                           " (one value per row); use --budget-metric sqnr for such outputs");
  }
  return Status::Ok();
}

bool looks_like_logits(const ir::Graph& graph, const std::string& output, const Shape& shape) {
  if (last_dim(shape) < 2) return false;
  const std::string name = lower(output);
  for (const char* other : {"embed", "hidden", "pool", "feature", "box", "prob"})
    if (name.find(other) != std::string::npos) return false;
  if (name.find("logit") != std::string::npos) return true;
  const ir::Node* node = source_op(graph, output);
  if (is_linear(node)) return true;
  if (node && node->op_type == "Add")
    for (const auto& in : node->inputs)
      if (is_linear(source_op(graph, in))) return true;
  return false;
}

FidelityMetric auto_fidelity_metric(const ir::Graph& graph, const FidelityReference& reference) {
  if (reference.outputs.empty()) return FidelityMetric::kSqnr;
  for (size_t o = 0; o < reference.scored.size(); ++o)
    if (reference.scored[o] && !looks_like_logits(graph, reference.output_names[o], reference.outputs[0][o].shape()))
      return FidelityMetric::kSqnr;
  return FidelityMetric::kKl;
}

}  // namespace ember::calibration
