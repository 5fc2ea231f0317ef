#include "formats/model_to_proto.h"

#include <set>

#include "formats/tensor_proto.h"

namespace ember::formats {
namespace {

Status restore_unknown_fields(const std::string& bytes, google::protobuf::Message* message, const std::string& what) {
  if (bytes.empty()) return Status::Ok();
  if (!message->GetReflection()->MutableUnknownFields(message)->ParseFromString(bytes))
    return internal_error(what + ": stored unknown fields are not valid protobuf");
  return Status::Ok();
}

template <class Proto>
Status parse_opaque(const std::string& bytes, Proto* out, const std::string& what) {
  if (!out->ParseFromString(bytes)) return internal_error(what + ": stored protobuf bytes are not valid");
  return Status::Ok();
}

Status value_info_to_proto(const ir::ValueInfo& info, onnx::ValueInfoProto* out) {
  const std::string what = "value '" + info.name + "'";
  out->set_name(info.name);
  if (!info.doc_string.empty()) out->set_doc_string(info.doc_string);
  if (!info.is_tensor) {
    EMBER_TRY(parse_opaque(info.opaque_type, out->mutable_type(), what));
  } else if (info.elem_type != DType::kUndefined || info.has_shape) {
    auto* tensor_type = out->mutable_type()->mutable_tensor_type();
    if (info.elem_type != DType::kUndefined) tensor_type->set_elem_type(static_cast<int32_t>(info.elem_type));
    if (info.has_shape) {
      auto* shape = tensor_type->mutable_shape();
      for (const ir::Dim& d : info.dims) {
        auto* dim = shape->add_dim();
        if (!d.param.empty()) {
          dim->set_dim_param(d.param);
        } else if (d.value >= 0) {
          dim->set_dim_value(d.value);
        }
      }
    }
  }
  return restore_unknown_fields(info.unknown_fields, out, what);
}

Status attribute_to_proto(const ir::Attribute& attr, onnx::AttributeProto* out) {
  using A = onnx::AttributeProto;
  const std::string what = "attribute '" + attr.name + "'";
  if (attr.kind == ir::AttrKind::kOther) {
    EMBER_TRY(parse_opaque(attr.opaque, out, what));
    out->set_name(attr.name);
    return Status::Ok();
  }
  out->set_name(attr.name);
  if (!attr.ref_attr_name.empty()) out->set_ref_attr_name(attr.ref_attr_name);
  if (!attr.doc_string.empty()) out->set_doc_string(attr.doc_string);
  switch (attr.kind) {
    case ir::AttrKind::kFloat: out->set_type(A::FLOAT); out->set_f(attr.f); break;
    case ir::AttrKind::kInt: out->set_type(A::INT); out->set_i(attr.i); break;
    case ir::AttrKind::kString: out->set_type(A::STRING); out->set_s(attr.s); break;
    case ir::AttrKind::kFloats:
      out->set_type(A::FLOATS);
      for (float v : attr.floats) out->add_floats(v);
      break;
    case ir::AttrKind::kInts:
      out->set_type(A::INTS);
      for (int64_t v : attr.ints) out->add_ints(v);
      break;
    case ir::AttrKind::kStrings:
      out->set_type(A::STRINGS);
      for (const auto& v : attr.strings) out->add_strings(v);
      break;
    case ir::AttrKind::kTensor:
      out->set_type(A::TENSOR);
      EMBER_TRY(tensor_to_proto(attr.t, "", out->mutable_t()).with_context(what));
      break;
    case ir::AttrKind::kTensors:
      out->set_type(A::TENSORS);
      for (const Tensor& t : attr.tensors) EMBER_TRY(tensor_to_proto(t, "", out->add_tensors()).with_context(what));
      break;
    case ir::AttrKind::kGraph:
      out->set_type(A::GRAPH);
      if (!attr.g) return invalid_input(what + " has no graph");
      EMBER_TRY(graph_to_proto(*attr.g, out->mutable_g(), true).with_context(what));
      break;
    case ir::AttrKind::kGraphs:
      out->set_type(A::GRAPHS);
      for (const auto& g : attr.graphs) {
        if (!g) return invalid_input(what + " has a missing graph");
        EMBER_TRY(graph_to_proto(*g, out->add_graphs(), true).with_context(what));
      }
      break;
    case ir::AttrKind::kUndefined:
    case ir::AttrKind::kOther:
      return invalid_input(what + " has no kind");
  }
  return Status::Ok();
}

Status node_to_proto(const ir::Node& node, onnx::NodeProto* out) {
  for (const auto& in : node.inputs) out->add_input(in);
  for (const auto& o : node.outputs) out->add_output(o);
  if (!node.name.empty()) out->set_name(node.name);
  out->set_op_type(node.op_type);
  if (!node.domain.empty()) out->set_domain(node.domain);
  for (const auto& attr : node.attributes) EMBER_TRY(attribute_to_proto(attr, out->add_attribute()));
  if (!node.doc_string.empty()) out->set_doc_string(node.doc_string);
  return restore_unknown_fields(node.unknown_fields, out, "node '" + node.name + "'");
}

}  // namespace

std::vector<std::pair<const std::string*, const Tensor*>> ordered_initializers(const ir::Graph& graph) {
  std::vector<std::pair<const std::string*, const Tensor*>> out;
  std::set<std::string_view> seen;
  for (const auto& name : graph.initializer_order) {
    auto it = graph.initializers.find(name);
    if (it != graph.initializers.end() && seen.insert(it->first).second) out.emplace_back(&it->first, &it->second);
  }
  for (const auto& [name, tensor] : graph.initializers)
    if (seen.insert(name).second) out.emplace_back(&name, &tensor);
  return out;
}

Status graph_to_proto(const ir::Graph& graph, onnx::GraphProto* out, bool with_initializers) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const ir::Node& node = graph.nodes[i];
    EMBER_TRY(node_to_proto(node, out->add_node())
                  .with_context("node " + std::to_string(i) + " '" + node.name + "' (" + node.op_type + ")"));
  }
  if (!graph.name.empty()) out->set_name(graph.name);
  if (with_initializers)
    for (const auto& [name, tensor] : ordered_initializers(graph))
      EMBER_TRY(tensor_to_proto(*tensor, *name, out->add_initializer()));
  if (!graph.doc_string.empty()) out->set_doc_string(graph.doc_string);
  for (const auto& in : graph.inputs) EMBER_TRY(value_info_to_proto(in, out->add_input()));
  for (const auto& o : graph.outputs) EMBER_TRY(value_info_to_proto(o, out->add_output()));
  for (const auto& vi : graph.value_info) EMBER_TRY(value_info_to_proto(vi, out->add_value_info()));
  for (const auto& bytes : graph.opaque_sparse_initializers)
    EMBER_TRY(parse_opaque(bytes, out->add_sparse_initializer(), "sparse initializer"));
  for (const auto& bytes : graph.opaque_quantization_annotations)
    EMBER_TRY(parse_opaque(bytes, out->add_quantization_annotation(), "quantization annotation"));
  return restore_unknown_fields(graph.unknown_fields, out, "graph '" + graph.name + "'");
}

Status model_to_proto_without_initializers(const ir::Model& model, onnx::ModelProto* out) {
  if (model.ir_version != 0) out->set_ir_version(model.ir_version);
  for (const auto& opset : model.opset_imports) {
    auto* o = out->add_opset_import();
    if (!opset.domain.empty()) o->set_domain(opset.domain);
    o->set_version(opset.version);
  }
  if (!model.producer_name.empty()) out->set_producer_name(model.producer_name);
  if (!model.producer_version.empty()) out->set_producer_version(model.producer_version);
  if (!model.domain.empty()) out->set_domain(model.domain);
  if (model.model_version != 0) out->set_model_version(model.model_version);
  if (!model.doc_string.empty()) out->set_doc_string(model.doc_string);
  EMBER_TRY(graph_to_proto(model.graph, out->mutable_graph(), false));
  for (const auto& [key, value] : model.metadata_props) {
    auto* entry = out->add_metadata_props();
    entry->set_key(key);
    entry->set_value(value);
  }
  for (const auto& bytes : model.opaque_training_info)
    EMBER_TRY(parse_opaque(bytes, out->add_training_info(), "training info"));
  for (const auto& bytes : model.opaque_functions) EMBER_TRY(parse_opaque(bytes, out->add_functions(), "function"));
  return restore_unknown_fields(model.unknown_fields, out, "model");
}

}  // namespace ember::formats
