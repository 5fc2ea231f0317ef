// Small constructors for the attributes and nodes that passes and rewrites create.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ir/model.h"

namespace ember::ir {

inline Attribute int_attribute(const std::string& name, int64_t value) {
  Attribute a;
  a.name = name;
  a.kind = AttrKind::kInt;
  a.i = value;
  return a;
}

inline Attribute float_attribute(const std::string& name, float value) {
  Attribute a;
  a.name = name;
  a.kind = AttrKind::kFloat;
  a.f = value;
  return a;
}

inline Attribute string_attribute(const std::string& name, std::string value) {
  Attribute a;
  a.name = name;
  a.kind = AttrKind::kString;
  a.s = std::move(value);
  return a;
}

inline Attribute ints_attribute(const std::string& name, std::vector<int64_t> values) {
  Attribute a;
  a.name = name;
  a.kind = AttrKind::kInts;
  a.ints = std::move(values);
  return a;
}

inline Node make_node(const std::string& op_type, const std::string& name, std::vector<std::string> inputs,
                      std::vector<std::string> outputs, std::vector<Attribute> attributes = {}) {
  Node n;
  n.op_type = op_type;
  n.name = name;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.attributes = std::move(attributes);
  return n;
}

}  // namespace ember::ir
