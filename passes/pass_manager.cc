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
  Remarks local;
  if (!ctx.remarks) ctx.remarks = &local;
  for (size_t i = 0; i < passes_.size(); ++i) {
    PassRecord record;
    record.name = entries_[i].name;
    record.options = pipeline_to_string({entries_[i]});
    record.nodes_before = count_nodes(model);
    record.weight_bytes_before = weight_bytes(model);
    const auto start = std::chrono::steady_clock::now();
    EMBER_TRY(passes_[i]->run(model, ctx).with_context("pass '" + record.name + "'"));
    record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Status verified = ir::verify_model(model);
    if (!verified.ok())
      return internal_error("pass '" + record.name + "' left an invalid graph: " + verified.message());
    record.nodes_after = count_nodes(model);
    record.weight_bytes_after = weight_bytes(model);
    records_.push_back(record);
  }
  if (ctx.remarks == &local) ctx.remarks = nullptr;
  return Status::Ok();
}

}  // namespace ember::passes
