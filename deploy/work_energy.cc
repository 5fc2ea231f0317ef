#include "deploy/work_energy.h"

#include <algorithm>

namespace ember::deploy {

WorkEnergy::WorkEnergy(const ir::Model& model) {
  for (const auto& node : model.graph.nodes) {
    if (node.outputs.empty() || node.outputs[0].empty()) continue;
    for (const auto& in : node.inputs) {
      const Tensor* w = in.empty() ? nullptr : model.graph.find_initializer(in);
      if (!w || w->rank() < 2 || w->numel() < 64) continue;
      const bool lookup = node.op_type.find("Gather") != std::string::npos;
      weight_reader_of_output_[node.outputs[0]] = Reader{w, lookup};
      break;
    }
  }
}

std::string WorkEnergy::shape_key(const std::map<std::string, Tensor>& feeds) {
  std::string key;
  for (const auto& [name, t] : feeds) key += name + ":" + shape_to_string(t.shape()) + ";";
  return key;
}

void WorkEnergy::add_node_work(const std::string& value, const Tensor& out, runtime::WorkEstimate& work) const {
  auto it = weight_reader_of_output_.find(value);
  if (it == weight_reader_of_output_.end()) return;
  const Tensor& w = *it->second.weight;
  const double elem_bytes = static_cast<double>(w.nbytes()) / static_cast<double>(std::max<int64_t>(1, w.numel()));
  if (it->second.lookup) {
    work.weight_bytes += elem_bytes * static_cast<double>(out.numel());
    return;
  }
  work.weight_bytes += static_cast<double>(w.nbytes());
  const double columns = out.rank() > 0 ? static_cast<double>(std::max<int64_t>(1, out.shape().back())) : 1.0;
  const double macs = static_cast<double>(out.numel()) * static_cast<double>(w.numel()) / columns;
  (traits(w.dtype()).is_integer ? work.int8_macs : work.fp32_macs) += macs;
}

Result<std::vector<Tensor>> WorkEnergy::run(runtime::Interpreter& interp, const std::map<std::string, Tensor>& feeds) {
  const std::string key = shape_key(feeds);
  {
    std::lock_guard lock(mutex_);
    if (by_shape_.count(key)) return interp.run(feeds);
  }
  runtime::WorkEstimate work;
  auto observer = [&](const std::string& value, const Tensor& t) -> Status {
    add_node_work(value, t, work);
    return Status::Ok();
  };
  auto out = interp.run(feeds, observer);
  if (out.ok()) {
    std::lock_guard lock(mutex_);
    by_shape_[key] = work;
  }
  return out;
}

bool WorkEnergy::known(const std::map<std::string, Tensor>& feeds) const {
  std::lock_guard lock(mutex_);
  return by_shape_.count(shape_key(feeds)) > 0;
}

runtime::WorkEstimate WorkEnergy::work(const std::map<std::string, Tensor>& feeds) const {
  std::lock_guard lock(mutex_);
  auto it = by_shape_.find(shape_key(feeds));
  return it == by_shape_.end() ? runtime::WorkEstimate{} : it->second;
}

double WorkEnergy::microjoules(const std::map<std::string, Tensor>& feeds) const {
  return runtime::estimate_microjoules(work(feeds));
}

}  // namespace ember::deploy
