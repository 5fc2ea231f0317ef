#include "passes/report/scheme_table.h"

#include <algorithm>
#include <map>

namespace ember::passes {
namespace {

const std::vector<std::string> kLayerOps = {"MatMul", "Gemm", "Conv", "Gather", "MatMulNBits", "MatMulInteger", "ConvInteger"};

bool is_layer(const ir::Node& n) { return std::find(kLayerOps.begin(), kLayerOps.end(), n.op_type) != kLayerOps.end(); }

// Index of the weight operand of a layer node.
size_t weight_input(const ir::Node& n) { return n.op_type == "Gather" ? 0 : 1; }

void summarize_scales(const Tensor* scale, TensorScheme& s) {
  if (!scale) return;
  auto values = scale->to_floats();
  if (!values.ok() || values->empty()) return;
  s.scale_min = *std::min_element(values->begin(), values->end());
  s.scale_max = *std::max_element(values->begin(), values->end());
  double sum = 0;
  for (float v : *values) sum += v;
  s.scale_mean = static_cast<float>(sum / static_cast<double>(values->size()));
  s.bytes += scale->nbytes();
}

std::string describe(const TensorScheme& s) {
  if (s.bits >= 32) return "fp32";
  std::string text = "int" + std::to_string(s.bits);
  text += s.block > 0 ? " block " + std::to_string(s.block) : (s.axis >= 0 ? " per-channel" : " per-tensor");
  text += s.symmetric ? " sym" : " asym";
  return text;
}

}  // namespace

std::vector<TensorScheme> describe_weight_schemes(const ir::Model& model) {
  const ir::Graph& g = model.graph;
  std::map<std::string, const ir::Node*> producer;
  for (const auto& n : g.nodes)
    for (const auto& o : n.outputs) producer[o] = &n;
  std::vector<TensorScheme> table;
  for (const auto& n : g.nodes) {
    if (!is_layer(n) || !n.has_input(weight_input(n))) continue;
    const std::string& w = n.inputs[weight_input(n)];
    TensorScheme s;
    s.layer_node = n.name;
    s.layer_op = n.op_type;
    s.layer_output = n.outputs.empty() ? "" : n.outputs[0];
    // The stored weight may reach the layer through layout ops (e.g. DQ -> Reshape for blocked Conv).
    const ir::Node* dq = nullptr;
    std::string source = w;
    for (;;) {
      auto it = producer.find(source);
      if (it == producer.end()) break;
      const ir::Node* p = it->second;
      if (p->op_type == "DequantizeLinear") dq = p;
      if (p->op_type != "Reshape" && p->op_type != "Transpose" && p->op_type != "Identity") break;
      source = p->inputs.at(0);
    }
    const std::string data_name = dq ? dq->inputs[0] : source;
    const Tensor* data = g.find_initializer(data_name);
    if (!data) continue;  // the weight is computed, not stored
    s.weight = data_name;
    s.dtype = std::string(dtype_name(data->dtype()));
    s.parameters = data->numel();
    s.bytes = data->nbytes();
    if (n.op_type == "MatMulNBits") {
      s.bits = static_cast<int>(n.attr_int("bits", 4));
      s.block = n.attr_int("block_size", 32);
      s.parameters = n.attr_int("K", 0) * n.attr_int("N", 0);
      s.symmetric = !n.has_input(3);
      summarize_scales(n.has_input(2) ? g.find_initializer(n.inputs[2]) : nullptr, s);
      if (n.has_input(3) && g.find_initializer(n.inputs[3])) s.bytes += g.find_initializer(n.inputs[3])->nbytes();
    } else if (dq || n.op_type == "MatMulInteger" || n.op_type == "ConvInteger") {
      s.bits = traits(data->dtype()).bits;
      if (dq) {
        s.block = dq->attr_int("block_size", 0);
        const Tensor* scale = dq->has_input(1) ? g.find_initializer(dq->inputs[1]) : nullptr;
        s.axis = scale && scale->numel() > 1 ? dq->attr_int("axis", 1) : -1;
        summarize_scales(scale, s);
        const Tensor* zp = dq->has_input(2) ? g.find_initializer(dq->inputs[2]) : nullptr;
        if (zp) {
          s.bytes += zp->nbytes();
          auto zv = zp->to_floats();
          s.symmetric = zv.ok() && std::all_of(zv->begin(), zv->end(), [&](float v) {
            return v == 0 || (data->dtype() == DType::kU8 && v == 128) || (data->dtype() == DType::kU4 && v == 8);
          });
        }
      }
    } else if (!traits(data->dtype()).is_float) {
      continue;  // an index or shape operand, not a weight
    }
    s.scheme = describe(s);
    table.push_back(std::move(s));
  }
  return table;
}

}  // namespace ember::passes
