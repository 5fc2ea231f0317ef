#include "passes/pass_manager.h"

#include <chrono>

#include "ir/verifier.h"
#include "passes/pass_registry.h"

namespace ember::passes {

size_t count_nodes(const ir::Model& model) {
  size_t n = 0;
  ir::for_each_graph(const_cast<ir::Graph&>(model.graph), [&](ir::Graph& g) { n += g.nodes.size(); });
  return n;
}

size_t weight_bytes(const ir::Model& model) {
  size_t n = 0;
  ir::for_each_graph(const_cast<ir::Graph&>(model.graph), [&](ir::Graph& g) {
    for (const auto& [name, t] : g.initializers) n += t.nbytes();
  });
  return n;
}

nlohmann::json PassRecord::to_json(bool timing) const {
  nlohmann::json j = {{"name", name},
                      {"options", options},
                      {"nodes_before", nodes_before},
                      {"nodes_after", nodes_after},
                      {"weight_bytes_before", weight_bytes_before},
                      {"weight_bytes_after", weight_bytes_after}};
  if (timing) j["seconds"] = seconds;
  nlohmann::json stats = nlohmann::json::object();
  for (const auto& [counter, value] : counters) {
    const bool is_time = counter.size() > 8 && counter.compare(counter.size() - 8, 8, "-seconds") == 0;
    if (timing || !is_time) stats[counter] = value;
  }
  if (!stats.empty()) j["stats"] = stats;
  if (result) j["result"] = result->to_json();
  return j;
}

Result<PassManager> PassManager::from_text(const std::string& pipeline_text) {
  EMBER_ASSIGN_OR_RETURN(std::vector<PipelineEntry> entries, parse_pipeline(pipeline_text));
  return from_entries(std::move(entries));
}

Result<PassManager> PassManager::from_entries(std::vector<PipelineEntry> entries) {
  PassManager pm;
  pm.entries_ = std::move(entries);
  for (const auto& entry : pm.entries_) {
    EMBER_ASSIGN_OR_RETURN(std::unique_ptr<Pass> pass, create_pass(entry));
    pm.passes_.push_back(std::move(pass));
  }
  pm.pipeline_text_ = pipeline_to_string(pm.entries_);
  return pm;
}

Status PassManager::run(ir::Model& model, PassContext& ctx) {
  records_.clear();
  for (size_t i = 0; i < passes_.size(); ++i) {
    PassRecord record;
    record.name = entries_[i].name;
    record.options = pipeline_to_string({entries_[i]});
    record.nodes_before = count_nodes(model);
    record.weight_bytes_before = weight_bytes(model);
    const std::map<std::string, double> counted_before = ctx.remarks.stats[record.name];
    const auto start = std::chrono::steady_clock::now();
    const Status ran = passes_[i]->run(model, ctx);
    // Whatever happened, the cached analyses may describe a model that no longer exists.
    ctx.analyses.invalidate(ran.ok() ? passes_[i]->preserved() : PreservedAnalyses::none());
    EMBER_TRY(ran.with_context("pass '" + record.name + "'"));
    record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Status verified = ir::verify_model(model);
    if (!verified.ok())
      return internal_error("pass '" + record.name + "' left an invalid graph: " + verified.message());
    record.nodes_after = count_nodes(model);
    record.weight_bytes_after = weight_bytes(model);
    for (const auto& [counter, value] : ctx.remarks.stats[record.name]) {
      auto before = counted_before.find(counter);
      const double delta = value - (before == counted_before.end() ? 0.0 : before->second);
      if (delta != 0 || before == counted_before.end()) record.counters[counter] = delta;
    }
    record.result = passes_[i]->result();
    records_.push_back(std::move(record));
  }
  return Status::Ok();
}

}  // namespace ember::passes
