#include "ir/model.h"

#include <algorithm>
#include <set>

namespace ember::ir {

Attribute::Attribute(const Attribute& other)
    : name(other.name), kind(other.kind), f(other.f), i(other.i), s(other.s), t(other.t),
      g(other.g ? std::make_shared<Graph>(*other.g) : nullptr), floats(other.floats), ints(other.ints),
      strings(other.strings), tensors(other.tensors), ref_attr_name(other.ref_attr_name),
      doc_string(other.doc_string), opaque(other.opaque) {
  graphs.reserve(other.graphs.size());
  for (const auto& body : other.graphs) graphs.push_back(body ? std::make_shared<Graph>(*body) : nullptr);
}

Attribute& Attribute::operator=(const Attribute& other) {
  if (this != &other) *this = Attribute(other);  // deep copy, then move in
  return *this;
}

const Attribute* Node::find_attr(const std::string& attr_name) const {
  for (const auto& a : attributes)
    if (a.name == attr_name) return &a;
  return nullptr;
}

int64_t Node::attr_int(const std::string& attr_name, int64_t fallback) const {
  const Attribute* a = find_attr(attr_name);
  return a ? a->i : fallback;
}

float Node::attr_float(const std::string& attr_name, float fallback) const {
  const Attribute* a = find_attr(attr_name);
  return a ? a->f : fallback;
}

std::string Node::attr_string(const std::string& attr_name, const std::string& fallback) const {
  const Attribute* a = find_attr(attr_name);
  return a ? a->s : fallback;
}

std::vector<int64_t> Node::attr_ints(const std::string& attr_name) const {
  const Attribute* a = find_attr(attr_name);
  return a ? a->ints : std::vector<int64_t>{};
}

const Tensor* Graph::find_initializer(const std::string& value_name) const {
  auto it = initializers.find(value_name);
  return it == initializers.end() ? nullptr : &it->second;
}

void Graph::set_initializer(const std::string& value_name, Tensor tensor) {
  if (initializers.find(value_name) == initializers.end()) initializer_order.push_back(value_name);
  initializers[value_name] = std::move(tensor);
}

void Graph::remove_initializer(const std::string& value_name) {
  initializers.erase(value_name);
  external_locations.erase(value_name);
  initializer_order.erase(std::remove(initializer_order.begin(), initializer_order.end(), value_name),
                          initializer_order.end());
}

std::vector<const ValueInfo*> Graph::feed_inputs() const {
  std::vector<const ValueInfo*> out;
  for (const auto& in : inputs)
    if (initializers.find(in.name) == initializers.end()) out.push_back(&in);
  return out;
}

int64_t Model::opset_version(const std::string& op_domain) const {
  const std::string d = op_domain == "ai.onnx" ? "" : op_domain;
  for (const auto& o : opset_imports) {
    const std::string od = o.domain == "ai.onnx" ? "" : o.domain;
    if (od == d) return o.version;
  }
  return 0;
}

void Model::set_opset_version(const std::string& op_domain, int64_t version) {
  for (auto& o : opset_imports)
    if (o.domain == op_domain || (op_domain.empty() && o.domain == "ai.onnx")) {
      o.version = version;
      return;
    }
  opset_imports.push_back({op_domain, version});
}

}  // namespace ember::ir
