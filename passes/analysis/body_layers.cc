// Layers inside control-flow bodies (If, Loop, Scan), for the analyses that predict what
// quantizing a weight costs (importance's INT8/INT4 candidates, the layer-input statistics,
// the search). A body reads its weights either as its own initializers (Constants turned into
// initializers: spox's Silero VAD v5) or from an enclosing graph (outer scope: torch's Silero
// VAD v4, the backward interpreter's hoisted Constants). Each body gets a layer model of its
// own, built on a view of the body in which the enclosing graphs' f32 initializers it reads
// are its initializers:
//   Before: main { W; Scan(body = { MatMul(x_t, W) }) }   build_layer_model(main): no layer W
//   After:  + Layer{W, MatMul "s_xw" in body "rnn/body", input x_t, N channels, K reduction}
// An outer weight joins a body's view only when no other graph reads it (the rule that
// quantize/subgraph_weights.h moves weights by): then quantize-weights rewrites it in that
// body, and the prediction and the quantization see the same layer. A body layer's uses index
// its body's nodes; Layer::body names the body. Its input is watched inside the body, once per
// run of the body (runtime/subgraph.h BodyObservation): a Loop or Scan adds every iteration's
// rows, H = sum_t X_t^T X_t, the Hessian of the unrolled network's shared weight, and an If
// adds the rows of the branch it takes.
#include <map>
#include <set>
#include <string>

#include "passes/analysis/layer_model.h"
#include "passes/graph_edit.h"

namespace ember::passes::analysis {
namespace {

// Names read by `graph`'s own nodes and outputs (not by its bodies).
std::set<std::string> own_reads(const ir::Graph& graph) {
  std::set<std::string> names;
  for (const auto& node : graph.nodes)
    for (const auto& in : node.inputs)
      if (!in.empty()) names.insert(in);
  for (const auto& out : graph.outputs) names.insert(out.name);
  return names;
}

// For each name, how many graphs of the model read it themselves.
std::map<std::string, int> graphs_reading(const ir::Graph& main) {
  std::map<std::string, int> counts;
  ir::for_each_graph(const_cast<ir::Graph&>(main), [&](ir::Graph& g) {
    for (const auto& name : own_reads(g)) ++counts[name];
  });
  return counts;
}

struct Scope {
  const ir::Graph* graph;
  const Scope* parent;
};

// The f32 initializer `name` of the nearest enclosing graph that has it, or nullptr.
const Tensor* outer_weight(const Scope* scope, const std::string& name) {
  for (; scope; scope = scope->parent)
    if (const Tensor* t = scope->graph->find_initializer(name)) return t->dtype() == DType::kF32 ? t : nullptr;
  return nullptr;
}

// The view of `body`: a copy whose initializers include the outer weights only it reads.
ir::Graph body_view(const ir::Graph& body, const Scope* enclosing, const std::map<std::string, int>& reads) {
  ir::Graph view = body;
  for (const std::string& name : own_reads(body)) {
    if (graph_defines(body, name) || reads.at(name) != 1) continue;
    if (const Tensor* t = outer_weight(enclosing, name)) view.set_initializer(name, *t);
  }
  return view;
}

Status collect_body_layers(const ir::Graph& graph, const Scope* parent, const std::map<std::string, int>& reads,
                           std::vector<Layer>& out) {
  const Scope scope{&graph, parent};
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const ir::Node& node = graph.nodes[n];
    const std::string owner = node.name.empty() ? node.op_type + "#" + std::to_string(n) : node.name;
    for (const auto& attr : node.attributes) {
      std::vector<const ir::Graph*> bodies;
      if (attr.g) bodies.push_back(attr.g.get());
      for (const auto& g : attr.graphs) bodies.push_back(g.get());
      for (const ir::Graph* body : bodies) {
        EMBER_ASSIGN_OR_RETURN(LayerModel layers, build_layer_model(body_view(*body, &scope, reads)));
        for (Layer& layer : layers.layers) {
          layer.body = owner + "/" + attr.name;
          out.push_back(std::move(layer));
        }
        EMBER_TRY(collect_body_layers(*body, &scope, reads, out));
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Layer>> build_body_layers(const ir::Graph& graph) {
  std::vector<Layer> out;
  EMBER_TRY(collect_body_layers(graph, nullptr, graphs_reading(graph), out));
  return out;
}

Result<LayerModel> build_layer_model_with_bodies(const ir::Graph& graph, const ShapeLookup& shape_of, int64_t heads) {
  EMBER_ASSIGN_OR_RETURN(LayerModel model, build_layer_model(graph, shape_of, heads));
  EMBER_ASSIGN_OR_RETURN(std::vector<Layer> body, build_body_layers(graph));
  for (Layer& layer : body)
    if (!model.find(layer.weight)) model.layers.push_back(std::move(layer));
  return model;
}

const Tensor* find_layer_weight(const ir::Graph& graph, const std::string& name) {
  const Tensor* found = nullptr;
  ir::for_each_graph(const_cast<ir::Graph&>(graph), [&](ir::Graph& g) {
    if (!found) found = g.find_initializer(name);
  });
  return found;
}

}  // namespace ember::passes::analysis
