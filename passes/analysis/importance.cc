#include "passes/analysis/importance.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <random>

#include "calibration/dataset.h"
#include "passes/analysis/importance_accumulator.h"
#include "runtime/grad/backward_interpreter.h"
#include "runtime/grad/losses.h"

namespace ember::passes::analysis {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string shape_text(const ir::ValueInfo& v) {
  if (!v.has_shape) return "of unknown shape";
  std::string s = "[";
  for (size_t i = 0; i < v.dims.size(); ++i)
    s += (i ? ", " : "") + (v.dims[i].value >= 0 ? std::to_string(v.dims[i].value) : (v.dims[i].param.empty() ? "?" : v.dims[i].param));
  return s + "]";
}

// The int input holding token ids: "input_ids", else the only integer input.
const ir::ValueInfo* find_ids_input(const std::vector<const ir::ValueInfo*>& inputs) {
  const ir::ValueInfo* only = nullptr;
  int integer_inputs = 0;
  for (const auto* in : inputs) {
    if (in->name == "input_ids") return in;
    if (in->elem_type == DType::kI64 || in->elem_type == DType::kI32) {
      ++integer_inputs;
      only = in;
    }
  }
  return integer_inputs == 1 ? only : nullptr;
}

// Checks that the loss fits the model's output and inputs; resolves kAuto.
Result<ImportanceLoss> resolve_loss(ImportanceLoss loss, const ir::ValueInfo& output,
                                    const std::vector<const ir::ValueInfo*>& inputs, bool has_labels) {
  const int rank = output.has_shape ? static_cast<int>(output.dims.size()) : -1;
  const bool has_ids = find_ids_input(inputs) != nullptr;
  if (loss == ImportanceLoss::kAuto) {  // an output of unknown rank is taken for class logits
    if (rank == 3 && has_ids) return ImportanceLoss::kLanguageModel;
    // One score per row (a probability, Silero VAD's [batch, 1]): a softmax over one class is
    // constant, so cross-entropies would score every weight 0; the output probes do not.
    if (rank >= 1 && output.dims.back().value == 1) return ImportanceLoss::kMse;
    if ((rank == 2 || rank < 0) && has_labels) return ImportanceLoss::kCrossEntropy;
    if (rank >= 2 || rank < 0) return ImportanceLoss::kPseudoLabel;
    return ImportanceLoss::kMse;
  }
  const std::string what = "loss " + importance_loss_name(loss) + " does not fit the model: ";
  const std::string out = "output '" + output.name + "' is " + shape_text(output);
  if (loss == ImportanceLoss::kLanguageModel) {
    if (rank >= 0 && rank != 3) return invalid_input(what + out + ", lm needs logits [batch, seq, vocab]");
    if (!has_ids) return invalid_input(what + "lm needs an integer input_ids input");
  }
  if (loss == ImportanceLoss::kCrossEntropy) {
    if (rank >= 0 && rank != 2) return invalid_input(what + out + ", ce needs logits [batch, classes]");
    if (!has_labels)
      return invalid_input(what + "ce needs labels in the calibration file (an npz array 'labels'); use --loss pseudo "
                                  "to take the FP32 model's own predictions as labels");
  }
  if (loss == ImportanceLoss::kPseudoLabel && rank >= 0 && rank < 2)
    return invalid_input(what + out + ", pseudo needs logits [..., classes]");
  return loss;
}

// Each tensor under the node name the rest of Ember uses: its layer's node, else its first reader.
void name_reader_nodes(const ir::Graph& graph, std::vector<TensorImportance>& tensors) {
  std::map<std::string, std::string> first_reader;
  for (const auto& node : graph.nodes)
    for (const auto& in : node.inputs)
      if (!in.empty()) first_reader.emplace(in, node.name);
  for (auto& t : tensors) {
    auto it = first_reader.find(t.name);
    t.node = !t.layer_node.empty() ? t.layer_node : it != first_reader.end() ? it->second : std::string();
  }
}

}  // namespace

int64_t importance_batch_rows(const ir::Graph& graph, int64_t requested) {
  int64_t batch = std::max<int64_t>(requested, 1);
  for (const auto& out : graph.outputs)
    if (out.has_shape && !out.dims.empty() && out.dims[0].value > 0) batch = std::min(batch, out.dims[0].value);
  return batch;
}

const HeadImportance* find_head_importance(const ImportanceReport& report, const AttentionBlock& block) {
  for (const auto& h : report.heads) {
    const AttentionBlock& a = h.block;
    bool same = a.heads == block.heads && a.head_dim == block.head_dim && a.slices.size() == block.slices.size();
    for (size_t i = 0; same && i < a.slices.size(); ++i)
      same = a.slices[i].weight == block.slices[i].weight && a.slices[i].offset == block.slices[i].offset;
    if (same) return &h;
  }
  return nullptr;
}

std::string ImportanceOptions::key() const {
  return "loss=" + importance_loss_name(loss) + ",heads=" + std::to_string(heads) + ",seed=" + std::to_string(seed) +
         ",products=" + (bf16_products ? "bf16" : "f32") + (rows > 0 ? ",rows=" + std::to_string(rows) : "");
}

Result<ImportanceLoss> parse_importance_loss(const std::string& name) {
  if (name == "auto" || name.empty()) return ImportanceLoss::kAuto;
  if (name == "lm") return ImportanceLoss::kLanguageModel;
  if (name == "ce") return ImportanceLoss::kCrossEntropy;
  if (name == "pseudo") return ImportanceLoss::kPseudoLabel;
  if (name == "mse") return ImportanceLoss::kMse;
  return invalid_input("unknown loss '" + name + "' (expected auto, lm, ce, pseudo or mse)");
}

std::string importance_loss_name(ImportanceLoss loss) {
  switch (loss) {
    case ImportanceLoss::kAuto: return "auto";
    case ImportanceLoss::kLanguageModel: return "lm";
    case ImportanceLoss::kCrossEntropy: return "ce";
    case ImportanceLoss::kPseudoLabel: return "pseudo";
    case ImportanceLoss::kMse: return "mse";
  }
  return "auto";
}

Result<ImportanceReport> compute_importance(const ir::Model& model, const calibration::CalibrationSet& set,
                                            const ImportanceOptions& options) {
  if (options.rows > 0 && options.rows < set.num_rows()) {  // the first rows only
    EMBER_ASSIGN_OR_RETURN(calibration::CalibrationSet::Split split, set.split_last(set.num_rows() - options.rows));
    ImportanceOptions all = options;
    all.rows = 0;
    return compute_importance(model, split.first, all);
  }
  const Clock::time_point start = Clock::now();
  if (model.graph.outputs.empty()) return invalid_input("the model has no outputs");
  const ir::ValueInfo& output = model.graph.outputs[0];
  // Cheap checks first, so a loss that cannot fit fails before anything runs.
  const std::vector<const ir::ValueInfo*> model_inputs = model.graph.feed_inputs();
  if (options.loss != ImportanceLoss::kAuto) {
    auto early = resolve_loss(options.loss, output, model_inputs, /*has_labels=*/true);  // labels: checked below
    if (!early.ok()) return early.status();
  }
  runtime::grad::GradientOptions go;
  go.seeded_outputs = {output.name};
  go.threads = options.threads;
  const bool bf16 = options.bf16_products && runtime::bf16_gemm_active();
  go.products = bf16 ? runtime::GemmInputs::kBf16 : runtime::GemmInputs::kF32;
  EMBER_ASSIGN_OR_RETURN(auto bi, runtime::grad::BackwardInterpreter::create(model, go));
  EMBER_ASSIGN_OR_RETURN(ImportanceLoss loss, resolve_loss(options.loss, output, model_inputs, set.has_labels()));
  const ir::ValueInfo* ids = find_ids_input(model_inputs);

  ImportanceReport report;
  report.loss = importance_loss_name(loss);
  report.loss_unit = loss == ImportanceLoss::kMse ? "mse" : "nats";
  report.gradient_products = bf16 ? "bf16" : "f32";
  report.rows = set.num_rows();
  report.batches = set.num_batches();
  report.batch_size = set.batch_size();
  report.calibration_source = set.source();
  report.calibration_hash = set.content_hash();
  report.gradient_path_nodes = bi->path_nodes();
  for (const auto& cut : bi->cuts()) report.gradient_cuts.push_back({cut.node, cut.op_type, cut.sources_cut_off});
  for (const auto& name : bi->parameters())
    if (!bi->reached().count(name)) report.unscored_weights.push_back(name);

  std::map<std::string, Tensor> weights;
  for (const auto& name : bi->parameters())
    if (bi->reached().count(name)) weights[name] = bi->parameter_value(name);
  std::unique_ptr<ImportanceAccumulator> acc;
  std::mt19937 rng(options.seed);
  double loss_sum = 0;
  int64_t loss_terms = 0;
  for (int64_t b = 0; b < set.num_batches(); ++b) {
    const std::map<std::string, Tensor> feeds = set.batch(b);
    Clock::time_point t = Clock::now();
    EMBER_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, bi->forward(feeds));
    report.forward_seconds += seconds_since(t);
    report.peak_saved_activation_bytes = std::max(report.peak_saved_activation_bytes, bi->saved_bytes());
    const Tensor& y = outputs[0];
    runtime::grad::LossValue lv;
    double fisher_scale = 1.0;
    if (loss == ImportanceLoss::kLanguageModel) {
      EMBER_ASSIGN_OR_RETURN(lv, runtime::grad::lm_cross_entropy(y, feeds.at(ids->name)));
    } else if (loss == ImportanceLoss::kMse) {
      EMBER_ASSIGN_OR_RETURN(lv, runtime::grad::mse_probe(y, rng));
    } else {
      const int64_t classes = y.rank() ? y.dim(y.rank() - 1) : 1;
      const Tensor rows = y.reshaped({y.numel() / std::max<int64_t>(classes, 1), classes});
      std::vector<int64_t> labels;
      if (loss == ImportanceLoss::kCrossEntropy) {
        labels = set.batch_labels(b);
      } else {
        EMBER_ASSIGN_OR_RETURN(labels, runtime::grad::argmax_labels(rows));
      }
      EMBER_ASSIGN_OR_RETURN(lv, runtime::grad::classification_cross_entropy(rows, labels));
      lv.grad = lv.grad.reshaped(y.shape());
    }
    if (loss != ImportanceLoss::kMse) fisher_scale = static_cast<double>(lv.terms);
    loss_sum += lv.loss * static_cast<double>(lv.terms);
    loss_terms += lv.terms;
    if (!acc) {
      auto shape_of = [&](const std::string& name) { return bi->value_shape(name); };
      EMBER_ASSIGN_OR_RETURN(LayerModel layers, build_layer_model_with_bodies(bi->model().graph, shape_of, options.heads));
      acc = std::make_unique<ImportanceAccumulator>(weights, std::move(layers));
    }
    t = Clock::now();
    EMBER_TRY(bi->backward(
        {{output.name, lv.grad}},
        [&](const std::string& name, const Tensor& g) { return acc->add_gradient(name, g, fisher_scale); },
        [&](const std::string& name, runtime::grad::FactoredGrad& g) {
          return acc->add_factored_gradient(name, g, fisher_scale);
        }));
    acc->end_batch();
    report.backward_seconds += seconds_since(t);
    if (options.progress) options.progress(b + 1, set.num_batches());
  }
  report.mean_loss = loss_terms ? loss_sum / static_cast<double>(loss_terms) : 0.0;
  std::vector<std::string> order;
  for (const auto& name : bi->parameters()) order.push_back(name);
  report.tensors = acc->tensors(order);
  name_reader_nodes(model.graph, report.tensors);
  report.heads = acc->heads();
  report.seconds = seconds_since(start);
  return report;
}

}  // namespace ember::passes::analysis
