// ember importance MODEL --data SET [--loss auto|lm|ce|pseudo|mse] [--json] -o importance.json:
// gradient-based importance of every weight, output channel, FFN neuron and attention head,
// and the predicted loss increase of quantizing each layer alone to INT8 / INT4
// (schemas/importance.schema.json). Prints a table ranked by INT4 (block 32) sensitivity.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "calibration/dataset.h"
#include "formats/atomic_file.h"
#include "passes/analysis/analyze_importance.h"
#include "passes/analysis/importance_json.h"
#include "passes/pass_manager.h"
#include "tools/common/cli_checks.h"
#include "tools/ember/cli_common.h"

namespace ember::cli {
namespace {

namespace pa = passes::analysis;

struct ImportanceCliOptions {
  std::string model;
  std::string data;
  std::string output;
  std::string loss = "auto";
  int64_t batch = 8;
  int64_t limit = 0;
  int64_t heads = 0;
  int64_t top = 20;
  int threads = 0;
  std::string grad_precision = "bf16";
  bool json = false;
};

// NaN when the tensor has no such candidate (it is not a layer weight).
double candidate_increase(const pa::TensorImportance& t, const std::string& precision, int64_t block) {
  for (const auto& c : t.candidates)
    if (c.precision == precision && c.block == block) return c.predicted_loss_increase;
  return std::nan("");
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  return s;
}

std::string number(double v) {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3e", v);
  return buf;
}

void print_table(const pa::ImportanceReport& r, int64_t top) {
  std::printf("loss %s: mean %.4f %s over %lld rows (%lld batches of %lld), %.1f s (forward %.1f s, backward %.1f s)\n",
              r.loss.c_str(), r.mean_loss, r.loss_unit.c_str(), static_cast<long long>(r.rows),
              static_cast<long long>(r.batches), static_cast<long long>(r.batch_size), r.seconds, r.forward_seconds,
              r.backward_seconds);
  std::printf("peak saved activations %s, %lld nodes on the gradient path, %s backward products\n\n",
              human_bytes(static_cast<double>(r.peak_saved_activation_bytes)).c_str(),
              static_cast<long long>(r.gradient_path_nodes), r.gradient_products.c_str());
  for (const auto& c : r.gradient_cuts) {
    std::string w;
    for (const auto& name : c.weights) w += (w.empty() ? "" : ", ") + name;
    std::printf("note: node '%s' (%s) has no backward rule; the gradient stops there%s%s\n", c.node.c_str(), c.op_type.c_str(),
                c.weights.empty() ? "" : " and these weights get no score: ", w.c_str());
  }
  if (!r.unscored_weights.empty()) std::printf("%zu weights without scores (see unscored_weights in --json)\n\n", r.unscored_weights.size());
  // Layers first, most sensitive to INT4 first; then the other weights by Taylor score.
  std::vector<const pa::TensorImportance*> order;
  for (const auto& t : r.tensors) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    const double x = candidate_increase(*a, "int4", 32), y = candidate_increase(*b, "int4", 32);
    if (std::isnan(x) != std::isnan(y)) return !std::isnan(x);
    return !std::isnan(x) ? x > y : a->taylor > b->taylor;
  });
  const std::string unit = r.loss_unit == "nats" ? "predicted loss increase, nats" : "predicted loss increase";
  std::printf("%4s  %-44s %-7s %-11s %10s %10s %10s %10s %10s  %s\n", "rank", "node", "op", "shape", "taylor",
              "int8/ch", "int4/b32", "int4/b128", "removal", "tensor");
  std::printf("%4s  %-44s %-7s %-11s %10s %32s %10s\n", "", "", "", "", "", ("(" + unit + ")").c_str(), "");
  const size_t shown = top > 0 ? std::min<size_t>(static_cast<size_t>(top), order.size()) : order.size();
  for (size_t i = 0; i < shown; ++i) {
    const auto& t = *order[i];
    const std::string& shown_name = t.node.empty() ? t.name : t.node;
    std::string name = shown_name.size() > 44 ? "..." + shown_name.substr(shown_name.size() - 41) : shown_name;
    std::printf("%4zu  %-44s %-7s %-11s %10s %10s %10s %10s %10s  %s\n", i + 1, name.c_str(), t.op.empty() ? "-" : t.op.c_str(),
                shape_text(t.shape).c_str(), number(t.taylor).c_str(), number(candidate_increase(t, "int8", 0)).c_str(),
                number(candidate_increase(t, "int4", 32)).c_str(), number(candidate_increase(t, "int4", 128)).c_str(),
                number(t.fisher_removal).c_str(), t.name.c_str());
  }
  if (shown < order.size()) std::printf("  ... %zu more (--top 0 shows all)\n", order.size() - shown);
  for (const auto& h : r.heads) {
    std::vector<size_t> rank(h.taylor.size());
    for (size_t k = 0; k < rank.size(); ++k) rank[k] = k;
    std::sort(rank.begin(), rank.end(), [&](size_t a, size_t b) { return h.taylor[a] > h.taylor[b]; });
    std::printf("\nattention on %s: %lld heads x %lld, heads by Taylor score:", h.block.input.c_str(),
                static_cast<long long>(h.block.heads), static_cast<long long>(h.block.head_dim));
    for (size_t k : rank) std::printf(" %zu (%s)", k, number(h.taylor[k]).c_str());
    std::printf("\n");
  }
}

// A thin CLI over the analyze-importance pass: it opens the calibration set, runs the pass,
// and prints or writes the report the pass computed.
int run_importance(const ImportanceCliOptions& opts) {
  apply_threads(opts.threads, "ember importance");
  auto loss = pa::parse_importance_loss(opts.loss);
  if (!loss.ok()) return report(loss.status());
  auto model = load_model(opts.model);
  if (!model.ok()) return report(model.status());
  calibration::CalibrationOptions co;
  co.batch = pa::importance_batch_rows(model->graph, opts.batch);
  co.limit = opts.limit;
  auto set = calibration::CalibrationSet::open(opts.data, model->graph.feed_inputs(), co);
  if (!set.ok()) return report(set.status().with_context(opts.model));
  const std::map<std::string, std::string> pass_options = {{"loss", opts.loss}, {"heads", std::to_string(opts.heads)},
                                                           {"threads", std::to_string(opts.threads)},
                                                           {"grad-precision", opts.grad_precision}};
  auto manager = passes::PassManager::from_entries({{"analyze-importance", passes::PassOptions("analyze-importance", pass_options)}});
  if (!manager.ok()) return report(manager.status());
  passes::AnalysisManager analyses(&*set);
  Progress progress("importance", 0);
  analyses.set_progress([&](std::string_view) { return progress.callback(); });
  passes::Remarks remarks;
  passes::PassContext ctx(analyses, remarks);
  Status status = manager->run(*model, ctx);
  if (!status.ok()) return report(status.with_context(opts.model));
  auto result = manager->last_result<passes::ImportanceResult>("analyze-importance");
  if (!result || !result->report) return report(internal_error("analyze-importance left no report"));
  const nlohmann::json j = pa::importance_to_json(*result->report, opts.model);
  if (!opts.output.empty()) {
    status = formats::write_string_atomic(opts.output, json_text(j, 1) + "\n");
    if (!status.ok()) return report(status);
  }
  if (opts.json) {
    std::printf("%s\n", json_text(j).c_str());
  } else {
    print_table(*result->report, opts.top);
    if (!opts.output.empty()) std::printf("\nwrote %s\n", opts.output.c_str());
  }
  return kExitOk;
}

}  // namespace

void add_importance_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<ImportanceCliOptions>();
  CLI::App* sub = app.add_subcommand("importance", "Score weights, channels, FFN neurons, attention heads and precisions with gradients");
  sub->add_option("model", opts->model, "The FP32 ONNX model")->required();
  sub->add_option("--data", opts->data, "Calibration set: .npy (one input), .npz (arrays named after the inputs, optional 'labels'), or a directory")
      ->required();
  sub->add_option("-o,--output", opts->output, "Where to write the report (JSON, schemas/importance.schema.json)");
  sub->add_option("--loss", opts->loss,
                  "lm: next-token cross-entropy on input_ids; ce: cross-entropy against the set's labels; pseudo: against "
                  "the FP32 model's argmax; mse: output MSE against the FP32 model; auto: lm for language models, mse for one "
                  "score per row (last dim 1) or outputs of rank < 2, else ce with labels, else pseudo")
      ->default_val("auto")->check(CLI::IsMember({"auto", "lm", "ce", "pseudo", "mse"}));
  sub->add_option("--batch", opts->batch, "Rows per batch (capped by the model's fixed batch size)")->default_val(8)->check(CountIn(1, 1 << 20));
  sub->add_option("--limit", opts->limit, "Use only the first N rows of the set (0 = all)")->default_val(0)->check(CountIn(0, INT64_MAX));
  sub->add_option("--heads", opts->heads, "Attention heads per block (0: read from the graph's Reshapes)")->default_val(0)->check(CountIn(0, 1 << 16));
  sub->add_option("--top", opts->top, "Rows of the ranked table (0 = all)")->default_val(20)->check(CountIn(0, INT32_MAX));
  sub->add_option("--threads", opts->threads, "Worker threads (0 = all cores)")->default_val(0)->check(ThreadCount());
  sub->add_option("--grad-precision", opts->grad_precision,
                  "bf16: the backward pass's matrix products round their inputs to bfloat16 and sum in f32, about twice "
                  "as fast on CPUs with AVX512-BF16 (f32 elsewhere); f32: f32 throughout. The forward pass is always f32")
      ->default_val("bf16")->check(CLI::IsMember({"bf16", "f32"}));
  sub->add_flag("--json", opts->json, "Print the report as JSON instead of the table");
  sub->final_callback([opts, &exit_code] { exit_code = run_importance(*opts); });
}

}  // namespace ember::cli
