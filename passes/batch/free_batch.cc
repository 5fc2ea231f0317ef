#include "passes/batch/free_batch.h"

#include <set>

#include "ir/builders.h"
#include "passes/batch/batch_roles.h"
#include "passes/graph_edit.h"

namespace ember::passes {

nlohmann::json FreeBatchResult::to_json() const {
  return {{"reshapes_rewritten", reshapes_rewritten},
          {"gathers_broadcast", gathers_broadcast},
          {"value_infos_updated", value_infos_updated},
          {"batch_param", batch_param}};
}

namespace {

// Builds the new nodes: the batch count once at the top, shapes made from it right after, and
// the Expand of a GatherND's data just before that GatherND.
class BatchRewriter {
 public:
  BatchRewriter(ir::Graph& graph, const BatchAnalysis& a) : g_(graph), a_(a) {}

  void fix_reshape(size_t node) {
    ir::Node& n = g_.nodes[node];
    const std::string shape = n.inputs[1];
    auto it = rewritten_.find(shape);
    if (it == rewritten_.end()) {
      const Tensor& t = *g_.find_initializer(shape);
      std::vector<int64_t> rest(t.data<int64_t>() + 1, t.data<int64_t>() + t.numel());
      it = rewritten_.emplace(shape, batch_shape(shape, rest)).first;
    }
    n.inputs[1] = it->second;
  }

  void fix_gather(size_t node) {
    ir::Node& n = g_.nodes[node];
    const std::string data = n.inputs[0];
    auto it = rewritten_.find(data);
    if (it == rewritten_.end()) {
      const Tensor* init = g_.find_initializer(data);
      const int rank = init ? init->rank() : static_cast<int>(info(data)->dims.size());
      const std::string shape = batch_shape(data, std::vector<int64_t>(static_cast<size_t>(rank - 1), 1));
      const ir::ValueInfo* vi = init ? nullptr : info(data);  // after batch_shape, which adds value_info
      const std::string expanded = fresh(data + ".rows");
      before_[node].push_back(ir::make_node("Expand", expanded, {data, shape}, {expanded}));
      ir::ValueInfo out;
      out.name = expanded;
      out.elem_type = init ? init->dtype() : vi->elem_type;
      out.has_shape = true;
      out.dims.push_back({-1, a_.batch_param});
      for (int d = 1; d < rank; ++d) out.dims.push_back(init ? ir::Dim{init->dim(d), ""} : vi->dims[static_cast<size_t>(d)]);
      g_.value_info.push_back(out);
      it = rewritten_.emplace(data, expanded).first;
    }
    n.inputs[0] = it->second;
  }

  void commit() {
    std::vector<ir::Node> nodes = std::move(prologue_);
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      for (auto& n : before_[i]) nodes.push_back(std::move(n));
      nodes.push_back(std::move(g_.nodes[i]));
    }
    g_.nodes = std::move(nodes);
    // The constant [1, ...] shapes now read by no node go.
    const std::set<std::string> read = names_read(g_);
    for (const auto& [old_name, replacement] : rewritten_)
      if (!read.count(old_name) && g_.find_initializer(old_name) && !is_graph_input(old_name)) g_.remove_initializer(old_name);
  }

 private:
  std::string fresh(const std::string& base) {
    std::string name = unique_name(g_, base);
    for (int i = 1; created_.count(name); ++i) name = unique_name(g_, base + "." + std::to_string(i));
    created_.insert(name);
    return name;
  }

  // The analysis found the rank of every value it asks to broadcast, in one of these.
  bool is_graph_input(const std::string& name) const {
    for (const auto& v : g_.inputs)
      if (v.name == name) return true;
    return false;
  }

  const ir::ValueInfo* info(const std::string& name) const {
    for (const auto* list : {&g_.value_info, &g_.outputs, &g_.inputs})
      for (const auto& v : *list)
        if (v.name == name) return &v;
    return nullptr;
  }

  void add_int_vector_info(const std::string& name, int64_t length) {
    ir::ValueInfo v;
    v.name = name;
    v.elem_type = DType::kI64;
    v.has_shape = true;
    v.dims = {{length, ""}};
    g_.value_info.push_back(v);
  }

  // The batch count [B] read from the first input: Shape then Gather(index [0]), valid at every
  // opset (Shape's start/end attributes need 15).
  const std::string& count() {
    if (count_.empty()) {
      const std::string shape = fresh("free_batch.input_shape");
      const std::string zero = fresh("free_batch.zero");
      count_ = fresh("free_batch.batch");
      g_.set_initializer(zero, Tensor::from_vector<int64_t>({1}, {0}));
      prologue_.push_back(ir::make_node("Shape", shape, {a_.batch_inputs[0]}, {shape}));
      prologue_.push_back(ir::make_node("Gather", count_, {shape, zero}, {count_}, {ir::int_attribute("axis", 0)}));
      add_int_vector_info(count_, 1);
    }
    return count_;
  }

  // Concat(batch, rest): a shape vector whose dim 0 is the batch.
  std::string batch_shape(const std::string& base, const std::vector<int64_t>& rest) {
    const std::string& b = count();
    if (rest.empty()) return b;
    const std::string rest_name = fresh(base + ".rest");
    const std::string joined = fresh(base + ".batch");
    g_.set_initializer(rest_name, Tensor::from_vector<int64_t>({static_cast<int64_t>(rest.size())}, rest));
    prologue_.push_back(ir::make_node("Concat", joined, {b, rest_name}, {joined}, {ir::int_attribute("axis", 0)}));
    add_int_vector_info(joined, static_cast<int64_t>(rest.size()) + 1);
    return joined;
  }

  ir::Graph& g_;
  const BatchAnalysis& a_;
  std::string count_;
  std::vector<ir::Node> prologue_;
  std::map<size_t, std::vector<ir::Node>> before_;
  std::map<std::string, std::string> rewritten_;
  std::set<std::string> created_;
};

// dim 0 of a batch value's declared shape: the batch's name, or unknown for B*k rows.
int update_dim0(std::vector<ir::ValueInfo>& infos, const BatchAnalysis& a) {
  int updated = 0;
  for (auto& v : infos) {
    auto it = a.roles.find(v.name);
    if (!v.has_shape || v.dims.empty() || it == a.roles.end()) continue;
    const BatchRole r = it->second.role;
    if (r == BatchRole::kFree || r == BatchRole::kCount || r == BatchRole::kShape) continue;
    const bool batch_major = r != BatchRole::kRows || it->second.unit;
    const ir::Dim want = batch_major ? ir::Dim{-1, a.batch_param} : ir::Dim{-1, ""};
    if (v.dims[0].value == want.value && v.dims[0].param == want.param) continue;
    v.dims[0] = want;
    ++updated;
  }
  return updated;
}

}  // namespace

Status FreeBatch::run(ir::Model& model, PassContext& ctx) {
  ir::Graph& graph = model.graph;
  EMBER_ASSIGN_OR_RETURN(BatchAnalysis analysis, analyze_batch_roles(graph));
  result_ = std::make_shared<FreeBatchResult>();
  result_->batch_param = analysis.batch_param;
  BatchRewriter rewriter(graph, analysis);
  for (const BatchFix& fix : analysis.fixes) {
    if (fix.kind == BatchFix::kReshapeBatchOne) {
      rewriter.fix_reshape(fix.node);
      ++result_->reshapes_rewritten;
    } else {
      rewriter.fix_gather(fix.node);
      ++result_->gathers_broadcast;
    }
  }
  rewriter.commit();
  result_->value_infos_updated = update_dim0(graph.inputs, analysis) + update_dim0(graph.value_info, analysis) + update_dim0(graph.outputs, analysis);
  ctx.remarks.count(name(), "reshapes-rewritten", result_->reshapes_rewritten);
  ctx.remarks.count(name(), "gathers-broadcast", result_->gathers_broadcast);
  ctx.remarks.count(name(), "value-infos-updated", result_->value_infos_updated);
  return Status::Ok();
}

}  // namespace ember::passes
