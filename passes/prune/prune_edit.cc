#include "passes/prune/prune_edit.h"

#include <algorithm>
#include <set>

namespace ember::passes::prune {

std::vector<int64_t> kept_units(int64_t n, const std::vector<int64_t>& removed) {
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < n; ++i)
    if (!std::binary_search(removed.begin(), removed.end(), i)) kept.push_back(i);
  return kept;
}

analysis::Layer current_layer(const ir::Graph& graph, analysis::Layer layer) {
  const Tensor& w = *graph.find_initializer(layer.weight);
  layer.shape = w.shape();
  layer.channels = w.dim(layer.column_major() ? 1 : 0);
  layer.reduction = w.dim(layer.column_major() ? 0 : 1);
  return layer;
}

Shape stored_shape(const analysis::Layer& layer) {
  return layer.column_major() ? Shape{layer.reduction, layer.channels} : Shape{layer.channels, layer.reduction};
}

void forget_dims(ir::Graph& graph, const std::vector<std::string>& values) {
  const std::set<std::string> changed(values.begin(), values.end());
  for (ir::ValueInfo& v : graph.value_info)
    if (changed.count(v.name))
      for (ir::Dim& d : v.dims) d = ir::Dim{};
}

Tensor gather_last(const Tensor& t, const std::vector<int64_t>& kept) {
  Shape shape = t.shape();
  shape.back() = static_cast<int64_t>(kept.size());
  std::vector<float> v;
  for (int64_t k : kept) v.push_back(t.data<float>()[k]);
  return Tensor::from_vector<float>(shape, v);
}

}  // namespace ember::passes::prune
