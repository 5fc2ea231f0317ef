// ir::Model -> onnx::ModelProto, the inverse of the loader's conversion: opaque parts are
// parsed back, unknown fields are restored, tensors are written as raw_data.
#pragma once
#include <onnx/onnx_pb.h>

#include "ir/model.h"

namespace ember::formats {

// Converts `graph`. With `with_initializers` false the initializers are left out, so that the
// writer can stream the main graph's weights straight from tensor memory.
Status graph_to_proto(const ir::Graph& graph, onnx::GraphProto* out, bool with_initializers);

// Converts the whole model except the main graph's initializers (see graph_to_proto).
Status model_to_proto_without_initializers(const ir::Model& model, onnx::ModelProto* out);

// The main graph's initializers in file order: initializer_order first, then any initializer
// a pass added to the map without recording its order.
std::vector<std::pair<const std::string*, const Tensor*>> ordered_initializers(const ir::Graph& graph);

}  // namespace ember::formats
