#include "formats/onnx_load.h"

#include <climits>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/onnx_pb.h>

#include "formats/mapped_file.h"
#include "formats/tensor_proto.h"
#include "ir/verifier.h"

namespace ember::formats {
namespace {

// Subgraphs nest through node attributes; a hostile file must not exhaust the stack.
constexpr int kMaxGraphDepth = 32;

struct LoadContext {
  ExternalDataReader* external;
};

// Fields newer than the onnx 1.12 proto (e.g. NodeProto.metadata_props from IR 10 exporters)
// land in the unknown field set; keeping their bytes lets the writer put them back.
std::string unknown_fields_of(const google::protobuf::Message& message) {
  const auto& unknown = message.GetReflection()->GetUnknownFields(message);
  std::string bytes;
  if (!unknown.empty()) unknown.SerializeToString(&bytes);
  return bytes;
}

Status convert_graph(onnx::GraphProto& proto, ir::Graph* out, LoadContext& ctx, int depth);

Status convert_value_info(const onnx::ValueInfoProto& proto, ir::ValueInfo* out) {
  out->name = proto.name();
  out->doc_string = proto.doc_string();
  out->unknown_fields = unknown_fields_of(proto);
  if (!proto.has_type() || proto.type().value_case() == onnx::TypeProto::VALUE_NOT_SET) return Status::Ok();
  const onnx::TypeProto& type = proto.type();
  if (type.value_case() != onnx::TypeProto::kTensorType) {
    out->is_tensor = false;
    out->opaque_type = type.SerializeAsString();
    return Status::Ok();
  }
  const auto& tensor_type = type.tensor_type();
  if (tensor_type.elem_type() != 0) {
    const DTypeTraits* dt = find_dtype_traits(tensor_type.elem_type());
    if (!dt)
      return unsupported("value '" + proto.name() + "' has element type " + std::to_string(tensor_type.elem_type()) +
                         ", which Ember does not support");
    out->elem_type = dt->dtype;
  }
  out->has_shape = tensor_type.has_shape();
  for (const auto& dim : tensor_type.shape().dim()) {
    ir::Dim d;
    if (dim.value_case() == onnx::TensorShapeProto::Dimension::kDimValue) {
      if (dim.dim_value() < 0)
        return invalid_input("value '" + proto.name() + "' has negative dimension " + std::to_string(dim.dim_value()));
      d.value = dim.dim_value();
    } else if (dim.value_case() == onnx::TensorShapeProto::Dimension::kDimParam) {
      d.param = dim.dim_param();
    }
    out->dims.push_back(std::move(d));
  }
  return Status::Ok();
}

Result<std::shared_ptr<ir::Graph>> convert_subgraph(onnx::GraphProto& proto, LoadContext& ctx, int depth) {
  auto graph = std::make_shared<ir::Graph>();
  EMBER_TRY(convert_graph(proto, graph.get(), ctx, depth + 1));
  return graph;
}

Status convert_attribute(onnx::AttributeProto& proto, ir::Attribute* out, LoadContext& ctx, int depth) {
  using A = onnx::AttributeProto;
  out->name = proto.name();
  out->doc_string = proto.doc_string();
  out->ref_attr_name = proto.ref_attr_name();
  const std::string what = "attribute '" + proto.name() + "'";
  switch (proto.type()) {
    case A::FLOAT: out->kind = ir::AttrKind::kFloat; out->f = proto.f(); break;
    case A::INT: out->kind = ir::AttrKind::kInt; out->i = proto.i(); break;
    case A::STRING: out->kind = ir::AttrKind::kString; out->s = proto.s(); break;
    case A::FLOATS:
      out->kind = ir::AttrKind::kFloats;
      out->floats.assign(proto.floats().begin(), proto.floats().end());
      break;
    case A::INTS:
      out->kind = ir::AttrKind::kInts;
      out->ints.assign(proto.ints().begin(), proto.ints().end());
      break;
    case A::STRINGS:
      out->kind = ir::AttrKind::kStrings;
      out->strings.assign(proto.strings().begin(), proto.strings().end());
      break;
    case A::TENSOR: {
      out->kind = ir::AttrKind::kTensor;
      auto t = tensor_from_proto(*proto.mutable_t(), ctx.external);
      if (!t.ok()) return t.status().with_context(what);
      out->t = std::move(t).value();
      break;
    }
    case A::TENSORS:
      out->kind = ir::AttrKind::kTensors;
      for (auto& tp : *proto.mutable_tensors()) {
        auto t = tensor_from_proto(tp, ctx.external);
        if (!t.ok()) return t.status().with_context(what);
        out->tensors.push_back(std::move(t).value());
      }
      break;
    case A::GRAPH: {
      out->kind = ir::AttrKind::kGraph;
      auto g = convert_subgraph(*proto.mutable_g(), ctx, depth);
      if (!g.ok()) return g.status().with_context(what);
      out->g = std::move(g).value();
      break;
    }
    case A::GRAPHS:
      out->kind = ir::AttrKind::kGraphs;
      for (auto& gp : *proto.mutable_graphs()) {
        auto g = convert_subgraph(gp, ctx, depth);
        if (!g.ok()) return g.status().with_context(what);
        out->graphs.push_back(std::move(g).value());
      }
      break;
    default:  // sparse tensors, type protos, undefined: kept whole
      out->kind = ir::AttrKind::kOther;
      out->opaque = proto.SerializeAsString();
      break;
  }
  return Status::Ok();
}

Status convert_node(onnx::NodeProto& proto, ir::Node* out, LoadContext& ctx, int depth) {
  out->name = proto.name();
  out->op_type = proto.op_type();
  out->domain = proto.domain();
  out->inputs.assign(proto.input().begin(), proto.input().end());
  out->outputs.assign(proto.output().begin(), proto.output().end());
  out->doc_string = proto.doc_string();
  out->unknown_fields = unknown_fields_of(proto);
  out->attributes.resize(static_cast<size_t>(proto.attribute_size()));
  for (int i = 0; i < proto.attribute_size(); ++i)
    EMBER_TRY(convert_attribute(*proto.mutable_attribute(i), &out->attributes[size_t(i)], ctx, depth));
  return Status::Ok();
}

Status convert_value_infos(const google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>& protos,
                           std::vector<ir::ValueInfo>* out) {
  out->resize(static_cast<size_t>(protos.size()));
  for (int i = 0; i < protos.size(); ++i) EMBER_TRY(convert_value_info(protos.Get(i), &(*out)[size_t(i)]));
  return Status::Ok();
}

Status convert_graph(onnx::GraphProto& proto, ir::Graph* out, LoadContext& ctx, int depth) {
  if (depth > kMaxGraphDepth)
    return invalid_input("subgraphs nest deeper than " + std::to_string(kMaxGraphDepth) + " levels");
  out->name = proto.name();
  out->doc_string = proto.doc_string();
  out->unknown_fields = unknown_fields_of(proto);
  EMBER_TRY(convert_value_infos(proto.input(), &out->inputs));
  EMBER_TRY(convert_value_infos(proto.output(), &out->outputs));
  EMBER_TRY(convert_value_infos(proto.value_info(), &out->value_info));
  for (int i = 0; i < proto.initializer_size(); ++i) {
    onnx::TensorProto& tp = *proto.mutable_initializer(i);
    const std::string name = tp.name();
    if (name.empty()) return invalid_input("initializer #" + std::to_string(i) + " has no name");
    if (out->initializers.count(name)) return invalid_input("initializer '" + name + "' appears twice");
    if (tp.data_location() == onnx::TensorProto::EXTERNAL)
      for (const auto& entry : tp.external_data())
        if (entry.key() == "location") out->external_locations[name] = entry.value();
    EMBER_ASSIGN_OR_RETURN(Tensor tensor, tensor_from_proto(tp, ctx.external));
    out->initializers.emplace(name, std::move(tensor));
    out->initializer_order.push_back(name);
  }
  for (const auto& sparse : proto.sparse_initializer())
    out->opaque_sparse_initializers.push_back(sparse.SerializeAsString());
  for (const auto& annotation : proto.quantization_annotation())
    out->opaque_quantization_annotations.push_back(annotation.SerializeAsString());
  out->nodes.resize(static_cast<size_t>(proto.node_size()));
  for (int i = 0; i < proto.node_size(); ++i) {
    onnx::NodeProto& np = *proto.mutable_node(i);
    EMBER_TRY(convert_node(np, &out->nodes[size_t(i)], ctx, depth)
                  .with_context("node " + std::to_string(i) + " '" + np.name() + "' (" + np.op_type() + ")"));
  }
  return Status::Ok();
}

Status convert_model(onnx::ModelProto& proto, ir::Model* out, LoadContext& ctx) {
  out->ir_version = proto.ir_version();
  for (const auto& opset : proto.opset_import()) out->opset_imports.push_back({opset.domain(), opset.version()});
  out->producer_name = proto.producer_name();
  out->producer_version = proto.producer_version();
  out->domain = proto.domain();
  out->model_version = proto.model_version();
  out->doc_string = proto.doc_string();
  for (const auto& entry : proto.metadata_props()) out->metadata_props.emplace_back(entry.key(), entry.value());
  for (const auto& function : proto.functions()) out->opaque_functions.push_back(function.SerializeAsString());
  for (const auto& info : proto.training_info()) out->opaque_training_info.push_back(info.SerializeAsString());
  out->unknown_fields = unknown_fields_of(proto);
  return convert_graph(*proto.mutable_graph(), &out->graph, ctx, 0);
}

}  // namespace

Result<ir::Model> load_onnx_from_bytes(const void* data, size_t size, const std::string& base_dir_for_external_data,
                                      const std::string& display_name) {
  const std::string& where = display_name;
  if (size == 0) return invalid_input(where + ": file is empty");
  if (size > static_cast<size_t>(INT_MAX))
    return unsupported(where + ": a single protobuf file cannot exceed 2 GB; store the weights as external data");
  onnx::ModelProto proto;
  {
    google::protobuf::io::ArrayInputStream array(data, static_cast<int>(size));
    google::protobuf::io::CodedInputStream coded(&array);
    coded.SetTotalBytesLimit(INT_MAX);
    if (!proto.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage())
      return invalid_input(where + ": not a valid ONNX model (the protobuf data is malformed or truncated)");
  }
  if (!proto.has_graph()) return invalid_input(where + ": not a valid ONNX model (it has no graph)");
  ExternalDataReader external(base_dir_for_external_data);
  LoadContext ctx{&external};
  ir::Model model;
  EMBER_TRY(convert_model(proto, &model, ctx).with_context(where));
  EMBER_TRY(ir::verify_opset_imports(model).with_context(where));
  EMBER_TRY(ir::verify_model(model).with_context(where));
  return model;
}

Result<ir::Model> load_onnx(const std::string& path) {
  EMBER_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, map_file(path));
  // The mapping is released on return: tensors own moved protobuf strings or external mappings.
  return load_onnx_from_bytes(file->data(), file->size(), parent_directory(path), path);
}

}  // namespace ember::formats
