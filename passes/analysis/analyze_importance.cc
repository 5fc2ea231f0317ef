#include "passes/analysis/analyze_importance.h"

#include "passes/analysis/importance_json.h"

namespace ember::passes {
namespace {

struct ImportanceOptionValues {
  std::string loss = "auto", grad_precision = "bf16";
  int64_t heads = 0, threads = 0, seed = 1;
};

const OptionTable<ImportanceOptionValues>& option_table() {
  using V = ImportanceOptionValues;
  static const OptionTable<V> table({
      {"loss", &V::loss,
       "lm: next-token cross-entropy on input_ids; ce: against the set's labels; pseudo: against the FP32 model's "
       "argmax; mse: output MSE probes; auto: lm for language models, else ce with labels, else pseudo"},
      {"grad-precision", &V::grad_precision,
       "bf16: the backward's matrix products round their inputs to bfloat16 (f32 sums; f32 on CPUs without BF16); f32"},
      {"heads", &V::heads, "Attention heads per block (0: read from the graph's Reshapes)"},
      {"threads", &V::threads, "Worker threads (0 = all cores); the scores are the same at any count"},
      {"seed", &V::seed, "Seed of the mse loss's random probes"},
  });
  return table;
}

}  // namespace

nlohmann::json ImportanceResult::to_json() const {
  return report ? analysis::importance_to_json(*report, "") : nlohmann::json();
}

Result<analysis::ImportanceOptions> importance_options(const PassOptions& options) {
  EMBER_ASSIGN_OR_RETURN(const ImportanceOptionValues v, option_table().parse(options));
  analysis::ImportanceOptions o;
  EMBER_ASSIGN_OR_RETURN(o.loss, analysis::parse_importance_loss(v.loss));
  if (v.grad_precision != "bf16" && v.grad_precision != "f32")
    return invalid_input("analyze-importance: grad-precision must be bf16 or f32, got '" + v.grad_precision + "'");
  if (v.heads < 0) return invalid_input("analyze-importance: heads must be >= 0");
  if (v.threads < 0) return invalid_input("analyze-importance: threads must be >= 0");
  o.bf16_products = v.grad_precision == "bf16";
  o.heads = v.heads;
  o.threads = static_cast<int>(v.threads);
  o.seed = static_cast<uint32_t>(v.seed);
  return o;
}

std::vector<OptionSpec> AnalyzeImportance::option_specs() { return option_table().specs(); }

Status AnalyzeImportance::run(ir::Model& model, PassContext& ctx) {
  EMBER_ASSIGN_OR_RETURN(const analysis::ImportanceOptions options, importance_options(options_));
  auto result = std::make_shared<ImportanceResult>();
  EMBER_ASSIGN_OR_RETURN(result->report, ctx.analyses.get<analysis::ImportanceAnalysis>(model, options));
  ctx.remarks.count(name(), "tensors-scored", static_cast<double>(result->report->tensors.size()));
  ctx.remarks.count(name(), "attention-blocks", static_cast<double>(result->report->heads.size()));
  result_ = std::move(result);
  return Status::Ok();
}

}  // namespace ember::passes
