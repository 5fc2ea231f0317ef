#include "passes/search/resource_plan.h"

#include "formats/sha256.h"
#include "passes/report/layer_stats.h"

namespace ember::passes::search {

Result<std::unique_ptr<ResourcePlan>> plan_resources(const ir::Model& prepared, const std::string& prepared_bytes,
                                                     const calibration::CalibrationSet& calib,
                                                     const std::vector<SearchLayer>& layers, const CompressOptions& options) {
  auto plan = std::make_unique<ResourcePlan>();
  plan->feeds = calib.batch(0);
  for (auto& [name, t] : plan->feeds) t = calibration::slice_rows(t, 0, 1);
  if (options.on_stage) options.on_stage("measuring what each action costs per inference (energy model" +
                                         std::string(options.recipe.target.kind == SearchTarget::Kind::kLatencySeconds ? ", latency table)" : ")"));
  EMBER_ASSIGN_OR_RETURN(plan->timer, LayerTimer::create(prepared, plan->feeds, layers, options.threads));
  EMBER_ASSIGN_OR_RETURN(const ModelStats stats, measure_layers(prepared, prepared, plan->feeds));
  EMBER_ASSIGN_OR_RETURN(plan->energy, energy_costs(*plan->timer, layers, stats));
  if (options.recipe.target.kind != SearchTarget::Kind::kLatencySeconds) return plan;
  plan->table = options.latency_table ? options.latency_table : &plan->own_table;
  formats::Sha256 hash;
  hash.update(prepared_bytes);
  EMBER_ASSIGN_OR_RETURN(plan->latency, latency_costs(*plan->timer, hash.hex_digest(), plan->feeds, layers, *plan->table, options.on_stage));
  return plan;
}

// The end-to-end latency of the chosen and the FP32 model, measured side by side, and the table's record.
Status record_latency(const ResourcePlan& plan, const ir::Model& prepared, const CompressOptions& options, CompressResult& result) {
  SearchSummary& s = result.search;
  if (options.on_stage) options.on_stage("measuring the chosen model's latency end to end");
  EMBER_ASSIGN_OR_RETURN(s.measured_latency_seconds, time_model(result.model, plan.feeds, options.threads));
  EMBER_ASSIGN_OR_RETURN(s.fp32_measured_latency_seconds, time_model(prepared, plan.feeds, options.threads));
  s.latency_table_sha256 = latency_entries_digest(plan.latency->entries);
  s.latency_entries = int64_t(plan.latency->entries.size());
  s.latency_measured = plan.table->measured();
  s.latency_reused = plan.table->reused();
  return Status::Ok();
}

}  // namespace ember::passes::search
