#include "passes/quantize/activation_ort.h"

#include <algorithm>
#include <cmath>

namespace ember::passes::act_quant {
namespace {

constexpr int64_t kOnnxFloat = 1;
constexpr int64_t kOnnxUint8 = 2;
// Floor of a per-row scale, so an all-zero row divides by something positive.
constexpr float kTinyScale = 1e-30f;

// [R, C] -> [C, R] for one-byte elements.
Tensor transpose_bytes(const Tensor& t) {
  const int64_t rows = t.dim(0), cols = t.dim(1);
  Tensor out = Tensor::zeros(t.dtype(), {cols, rows});
  const uint8_t* src = static_cast<const uint8_t*>(t.raw());
  uint8_t* dst = static_cast<uint8_t*>(out.raw_mutable());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
  return out;
}

}  // namespace

std::string OrtDynamicRewriter::constant(const std::string& base, Tensor value) {
  const std::string name = names_.make(base);
  model_.graph.set_initializer(name, std::move(value));
  return name;
}

Result<bool> OrtDynamicRewriter::prepare_weight(const ir::Node& node, IntWeight& out) {
  const ir::Graph& graph = model_.graph;
  const bool transposed = node.op_type == "Gemm" && node.attr_int("transB", 0) != 0;
  const WeightSource ws = weight_source(graph, node.inputs[1]);
  if (ws.kind == WeightSource::Kind::kOther) return false;
  const Tensor& stored = *graph.find_initializer(ws.initializer);
  if (stored.rank() != 2) return false;
  const int64_t n = transposed ? stored.dim(0) : stored.dim(1);
  const int out_axis = transposed ? 0 : 1;

  if (ws.kind == WeightSource::Kind::kFloat) {
    // Symmetric int8 per output column: scale = max|W[:, n]| / 127.
    const float* w = stored.data<float>();
    const int64_t rows = stored.dim(0), cols = stored.dim(1);
    std::vector<float> amax(static_cast<size_t>(n), 0.0f);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        float& m = amax[static_cast<size_t>(out_axis == 1 ? c : r)];
        m = std::max(m, std::fabs(w[r * cols + c]));
      }
    out.scales.resize(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) out.scales[static_cast<size_t>(j)] = amax[static_cast<size_t>(j)] > 0 ? amax[static_cast<size_t>(j)] / 127 : 1.0f;
    Tensor q = Tensor::zeros(DType::kI8, stored.shape());
    int8_t* qp = q.mutable_data<int8_t>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const float s = out.scales[static_cast<size_t>(out_axis == 1 ? c : r)];
        qp[r * cols + c] = static_cast<int8_t>(std::clamp(std::nearbyint(w[r * cols + c] / s), -127.0f, 127.0f));
      }
    out.data = constant(ws.initializer + "_quantized", transposed ? transpose_bytes(q) : q);
    out.dtype = DType::kI8;
    maybe_unread_inits_.insert(ws.initializer);
    return true;
  }

  // DequantizeLinear(Wq, scale[, zp]) from quantize-weights.
  if (stored.dtype() != DType::kI8 && stored.dtype() != DType::kU8) return false;
  const Tensor& scale = *graph.find_initializer(ws.scale);
  const bool per_tensor = scale.numel() == 1;
  if (!per_tensor && (scale.rank() != 1 || scale.numel() != n || ws.axis != out_axis)) return false;
  EMBER_ASSIGN_OR_RETURN(out.scales, scale.to_floats());
  bool zero_zp = true;
  if (!ws.zero_point.empty()) {
    const Tensor& zp = *graph.find_initializer(ws.zero_point);
    if (zp.dtype() != stored.dtype() || zp.numel() != scale.numel()) return false;
    EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> zps, zp.to_int64s());
    for (int64_t z : zps) zero_zp &= z == 0;
    if (!zero_zp) out.zero_point = per_tensor ? ws.zero_point : constant(ws.zero_point + "_column", zp.reshaped({n}));
  }
  out.dtype = stored.dtype();
  out.data = transposed ? constant(ws.initializer + "_kn", transpose_bytes(stored)) : ws.initializer;
  const ir::Node& dq = graph.nodes[static_cast<size_t>(ws.dq_node)];
  maybe_unread_nodes_.insert(dq.outputs[0]);
  for (const auto& in : dq.inputs)
    if (!in.empty()) maybe_unread_inits_.insert(in);
  return true;
}

const OrtDynamicRewriter::QuantizedX& OrtDynamicRewriter::quantize_per_tensor(const std::string& x, size_t before) {
  auto it = per_tensor_.find(x);
  if (it != per_tensor_.end()) return it->second;
  QuantizedX q{names_.make(x + "_quantized"), names_.make(x + "_scale"), names_.make(x + "_zero_point")};
  edits_.insert_before(before, make_node("DynamicQuantizeLinear", names_.make(x + "_DynamicQuantizeLinear"), {x}, {q.q, q.scale, q.zero_point}));
  return per_tensor_.emplace(x, q).first->second;
}

const OrtDynamicRewriter::QuantizedX& OrtDynamicRewriter::quantize_per_row(const std::string& x, size_t before) {
  auto it = per_row_x_.find(x);
  if (it != per_row_x_.end()) return it->second;
  const std::string abs = names_.make(x + "_abs"), amax = names_.make(x + "_row_absmax");
  const std::string raw_scale = names_.make(x + "_row_scale_raw"), scale = names_.make(x + "_row_scale");
  const std::string scaled = names_.make(x + "_row_scaled"), rounded = names_.make(x + "_row_rounded");
  const std::string q = names_.make(x + "_row_quantized");
  edits_.insert_before(before, make_node("Abs", names_.make(x + "_Abs"), {x}, {abs}));
  if (model_.opset_version("") >= 18) {
    const std::string axes = constant(x + "_row_axes", Tensor::from_vector<int64_t>({1}, {-1}));
    edits_.insert_before(before, make_node("ReduceMax", names_.make(x + "_ReduceMax"), {abs, axes}, {amax}, {int_attribute("keepdims", 1)}));
  } else {
    edits_.insert_before(before, make_node("ReduceMax", names_.make(x + "_ReduceMax"), {abs}, {amax},
                                           {ints_attribute("axes", {-1}), int_attribute("keepdims", 1)}));
  }
  const std::string levels = constant(x + "_row_levels", Tensor::scalar<float>(127.0f));
  const std::string tiny = constant(x + "_row_min_scale", Tensor::scalar<float>(kTinyScale));
  edits_.insert_before(before, make_node("Div", names_.make(x + "_Div_levels"), {amax, levels}, {raw_scale}));
  edits_.insert_before(before, make_node("Max", names_.make(x + "_Max_tiny"), {raw_scale, tiny}, {scale}));
  edits_.insert_before(before, make_node("Div", names_.make(x + "_Div_scale"), {x, scale}, {scaled}));
  const std::string shifted = names_.make(x + "_row_shifted");
  edits_.insert_before(before, make_node("Round", names_.make(x + "_Round"), {scaled}, {rounded}));
  edits_.insert_before(before, make_node("Add", names_.make(x + "_Add_midpoint"), {rounded, midpoint(true)}, {shifted}));
  edits_.insert_before(before, make_node("Cast", names_.make(x + "_Cast_uint8"), {shifted}, {q}, {int_attribute("to", kOnnxUint8)}));
  return per_row_x_.emplace(x, QuantizedX{q, scale, midpoint(false)}).first->second;
}

const std::string& OrtDynamicRewriter::midpoint(bool as_float) {
  std::string& name = as_float ? midpoint_float_ : midpoint_u8_;
  if (name.empty())
    name = as_float ? constant("row_quant_midpoint_float", Tensor::scalar<float>(128.0f))
                    : constant("row_quant_midpoint", Tensor::scalar<uint8_t>(128));
  return name;
}

const std::string& OrtDynamicRewriter::unsigned_weight(const std::string& data) {
  auto it = unsigned_weights_.find(data);
  if (it != unsigned_weights_.end()) return it->second;
  const Tensor& w = *model_.graph.find_initializer(data);
  Tensor u = Tensor::zeros(DType::kU8, w.shape());
  for (int64_t i = 0; i < w.numel(); ++i) u.mutable_data<uint8_t>()[i] = static_cast<uint8_t>(w.data<int8_t>()[i] + 128);
  maybe_unread_inits_.insert(data);
  return unsigned_weights_.emplace(data, constant(data + "_u8", std::move(u))).first->second;
}

Result<bool> OrtDynamicRewriter::rewrite(const Target& t) {
  const ir::Node node = model_.graph.nodes[t.node];
  const bool gemm = node.op_type == "Gemm";
  if ((node.op_type != "MatMul" && !gemm) || t.weight_input != 1 || t.inputs.size() != 1 || t.inputs[0] != 0) return false;
  if (gemm && node.attr_int("transA", 0) != 0) return false;
  const float alpha = gemm ? node.attr_float("alpha", 1.0f) : 1.0f;
  const float beta = gemm ? node.attr_float("beta", 1.0f) : 1.0f;
  std::string bias = gemm && node.has_input(2) ? node.inputs[2] : "";
  const Tensor* bias_constant = bias.empty() ? nullptr : model_.graph.find_initializer(bias);
  if (!bias.empty() && beta != 1.0f && (!bias_constant || bias_constant->dtype() != DType::kF32)) return false;

  const std::pair<std::string, bool> key(node.inputs[1], gemm && node.attr_int("transB", 0) != 0);
  auto cached = weights_.find(key);
  if (cached == weights_.end()) {
    IntWeight prepared;
    EMBER_ASSIGN_OR_RETURN(bool supported, prepare_weight(node, prepared));
    if (!supported) return false;
    cached = weights_.emplace(key, std::move(prepared)).first;
  }
  const IntWeight& w = cached->second;
  if (!bias.empty() && beta != 1.0f) {
    Tensor scaled = bias_constant->clone();
    for (int64_t i = 0; i < scaled.numel(); ++i) scaled.mutable_data<float>()[i] *= beta;
    bias = constant(bias + "_beta", scaled);
  }
  std::vector<float> w_scales = w.scales;
  for (float& s : w_scales) s *= alpha;
  const std::string w_scale = constant(node.outputs[0] + "_weight_scale",
                                       w_scales.size() == 1 ? Tensor::scalar<float>(w_scales[0])
                                                            : Tensor::from_vector<float>({static_cast<int64_t>(w_scales.size())}, w_scales));
  const std::string base = node.name.empty() ? node.outputs[0] : node.name;
  const std::string& x = node.inputs[0];
  const std::string out = node.outputs[0];
  const std::string product = names_.make(out + "_int32"), product_f = names_.make(out + "_int32_float");
  const std::string unbiased = bias.empty() ? out : names_.make(out + "_unbiased");
  std::vector<ir::Node> nodes;
  if (per_row_ && w.dtype == DType::kI8 && w.zero_point.empty()) {
    const QuantizedX& q = quantize_per_row(x, t.node);
    const std::string row_scaled = names_.make(out + "_row_scaled");
    nodes.push_back(make_node("MatMulInteger", names_.make(base + "_MatMulInteger"), {q.q, unsigned_weight(w.data), q.zero_point, q.zero_point},
                              {product}));
    nodes.push_back(make_node("Cast", names_.make(base + "_Cast"), {product}, {product_f}, {int_attribute("to", kOnnxFloat)}));
    nodes.push_back(make_node("Mul", names_.make(base + "_row_scale_Mul"), {product_f, q.scale}, {row_scaled}));
    nodes.push_back(make_node("Mul", names_.make(base + "_weight_scale_Mul"), {row_scaled, w_scale}, {unbiased}));
    ++row_nodes_;
  } else {
    const QuantizedX& q = quantize_per_tensor(x, t.node);
    const std::string scale = names_.make(out + "_scale");
    std::vector<std::string> inputs = {q.q, w.data, q.zero_point};
    if (!w.zero_point.empty()) inputs.push_back(w.zero_point);
    nodes.push_back(make_node("Mul", names_.make(base + "_scales_Mul"), {q.scale, w_scale}, {scale}));
    nodes.push_back(make_node("MatMulInteger", names_.make(base + "_MatMulInteger"), inputs, {product}));
    nodes.push_back(make_node("Cast", names_.make(base + "_Cast"), {product}, {product_f}, {int_attribute("to", kOnnxFloat)}));
    nodes.push_back(make_node("Mul", names_.make(base + "_scale_Mul"), {product_f, scale}, {unbiased}));
  }
  if (!bias.empty()) nodes.push_back(make_node("Add", names_.make(base + "_bias_Add"), {unbiased, bias}, {out}));
  if (gemm && node.has_input(2) && bias != node.inputs[2]) maybe_unread_inits_.insert(node.inputs[2]);
  edits_.replace(t.node, std::move(nodes));
  return true;
}

}  // namespace ember::passes::act_quant
