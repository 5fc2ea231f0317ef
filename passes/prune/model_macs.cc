#include "passes/prune/model_macs.h"

#include "passes/prune/conv_groups.h"

namespace ember::passes::prune {

Result<int64_t> model_macs(const ir::Model& model, const std::map<std::string, Tensor>& feeds) {
  EMBER_ASSIGN_OR_RETURN(const auto shapes, observe_shapes(model, feeds));
  auto numel = [](const std::vector<int64_t>& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
  };
  auto shape = [&](const std::string& v) -> std::vector<int64_t> {
    if (const Tensor* t = model.graph.find_initializer(v)) return t->shape();
    auto it = shapes.find(v);
    return it == shapes.end() ? std::vector<int64_t>() : it->second;
  };
  int64_t total = 0;
  for (const ir::Node& n : model.graph.nodes) {
    if (n.inputs.size() < 2 || n.outputs.empty()) continue;
    const std::vector<int64_t> out = shape(n.outputs[0]), a = shape(n.inputs[0]), b = shape(n.inputs[1]);
    if (out.empty() || a.empty() || b.empty()) continue;
    if (n.op_type == "Conv" && b.size() >= 3) total += numel(out) * (numel(b) / b[0]);
    else if (n.op_type == "ConvTranspose" && b.size() >= 3) total += numel(a) * (numel(b) / b[0]);
    else if (n.op_type == "Gemm" && a.size() == 2) total += numel(out) * a[n.attr_int("transA", 0) ? 0 : 1];
    else if (n.op_type == "MatMul") total += numel(out) * a.back();
  }
  const int64_t rows = feeds.empty() || feeds.begin()->second.rank() == 0 ? 1 : std::max<int64_t>(1, feeds.begin()->second.dim(0));
  return total / rows;
}

}  // namespace ember::passes::prune
