#include "passes/quantize/qdq_emit.h"
#include "ir/nibbles.h"

#include <algorithm>

#include "ir/builders.h"
#include "passes/cleanup/opset_upgrade.h"
#include "passes/graph_edit.h"
#include "passes/quantize/transpose.h"

namespace ember::passes::quant {
namespace {

UsedNames& used_values(const ir::Graph& graph, GraphEdits& edits) {
  if (!edits.used_values) edits.used_values.emplace(graph);
  return *edits.used_values;
}

// unique_name(graph, ...) from the kept name set, skipping names pending nodes took.
std::string fresh_value(const ir::Graph& graph, GraphEdits& edits, const std::string& base) {
  const UsedNames& used = used_values(graph, edits);
  std::string name = used.unique(base);
  for (int i = 1; edits.reserved.count(name); ++i) name = used.unique(base + "_" + std::to_string(i));
  edits.reserved.insert(name);
  return name;
}

std::string fresh_node_name(const ir::Graph& graph, GraphEdits& edits, const std::string& base) {
  if (!edits.node_names) {
    edits.node_names.emplace();
    for (const auto& n : graph.nodes) edits.node_names->insert(n.name);
  }
  const std::set<std::string>& taken = *edits.node_names;
  std::string name = base;
  for (int i = 1; taken.count(name) || edits.reserved.count("node:" + name); ++i) name = base + "_" + std::to_string(i);
  edits.reserved.insert("node:" + name);
  return name;
}

// graph.set_initializer for a fresh name, counted in the kept name set.
void add_initializer(ir::Graph& graph, GraphEdits& edits, const std::string& name, Tensor t) {
  graph.set_initializer(name, std::move(t));
  used_values(graph, edits).add(name);
  edits.added_initializers.push_back(name);
}

// replace_uses, counted in the kept name set.
void redirect_uses(ir::Graph& graph, GraphEdits& edits, const std::string& from, const std::string& to) {
  const size_t n = replace_uses(graph, from, to);
  used_values(graph, edits).remove(from, n);
  used_values(graph, edits).add(to, n);
}

// codes[0, n) into t's elements [first, first + n) (first even for 4-bit types: whole bytes).
void write_codes(const int32_t* codes, int64_t first, int64_t n, Tensor& t) {
  if (traits(t.dtype()).bits == 4) {
    pack_int4(codes, n, t.mutable_data<uint8_t>() + first / 2);
  } else if (t.dtype() == DType::kI8) {
    for (int64_t i = 0; i < n; ++i) t.mutable_data<int8_t>()[first + i] = static_cast<int8_t>(codes[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) t.mutable_data<uint8_t>()[first + i] = static_cast<uint8_t>(codes[i]);
  }
}

Tensor code_tensor(DType dtype, const Shape& shape, const std::vector<int32_t>& codes) {
  Tensor t = Tensor::zeros(dtype, shape);
  write_codes(codes.data(), 0, t.numel(), t);
  return t;
}

// The codes of q [C, K] in the stored layout: as they are, or transposed to [K, C] a band of
// an even number of stored rows at a time, so that no int32 copy of the whole matrix is made
// (a 32000 x 2048 LM head's codes are 262 MB as int32, 33 MB packed).
Tensor code_tensor(DType dtype, const Shape& shape, const QuantizedMatrix& q, bool transpose) {
  if (!transpose) return code_tensor(dtype, shape, q.codes);
  Tensor t = Tensor::zeros(dtype, shape);
  const int64_t C = q.rows, K = q.cols;
  const int64_t band = std::max<int64_t>(2, ((int64_t(1) << 20) / std::max<int64_t>(C, 1)) & ~int64_t(1));
  std::vector<int32_t> rows(static_cast<size_t>(band * C));
  for (int64_t k0 = 0; k0 < K; k0 += band) {
    const int64_t k1 = std::min(K, k0 + band);
    runtime::parallel_for(C, 256, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t k = k0; k < k1; ++k) rows[size_t((k - k0) * C + c)] = q.codes[size_t(c * K + k)];
    });
    write_codes(rows.data(), k0 * C, (k1 - k0) * C, t);
  }
  return t;
}

template <class T>
std::vector<T> transposed(const std::vector<T>& m, int64_t rows, int64_t cols) {
  std::vector<T> out(m.size());
  transpose_into(m.data(), rows, cols, out.data());
  return out;
}

void drop_weight(ir::Graph& graph, GraphEdits& edits, const std::string& name) {
  if (graph.find_initializer(name)) used_values(graph, edits).remove(name);
  graph.remove_initializer(name);
  graph.external_locations.erase(name);
  auto& vi = graph.value_info;
  vi.erase(std::remove_if(vi.begin(), vi.end(), [&](const ir::ValueInfo& v) { return v.name == name; }), vi.end());
}

bool is_pow2_at_least_16(int64_t b) { return b >= 16 && (b & (b - 1)) == 0; }

}  // namespace

DType code_dtype(QuantFormat f) {
  if (f.bits == 4) return f.symmetric ? DType::kI4 : DType::kU4;
  return f.symmetric ? DType::kI8 : DType::kU8;
}

void GraphEdits::apply(ir::Graph& graph) {
  std::vector<ir::Node> nodes = std::move(prepend);
  nodes.reserve(nodes.size() + graph.nodes.size());
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (!removed.count(i)) nodes.push_back(std::move(graph.nodes[i]));
    auto it = after.find(i);
    if (it != after.end())
      for (auto& n : it->second) nodes.push_back(std::move(n));
  }
  graph.nodes = std::move(nodes);
  prepend.clear();
  after.clear();
  removed.clear();
  used_values.reset();
  node_names.reset();
}

QdqTensors qdq_tensors(const Layer& target, const QuantizedMatrix& q) {
  const int64_t C = q.rows, K = q.cols, G = q.groups();
  const bool blocked = q.group < K;
  const bool flattened = blocked && target.shape.size() > 2;
  const DType dtype = code_dtype(q.format);
  const Shape code_shape = flattened ? Shape{C, K} : target.shape;
  const Shape param_shape = qdq_param_shape(target, C, G, blocked);
  const bool swap = blocked && target.channel_axis != 0;  // scales stored [G, C]
  QdqTensors out;
  out.group = q.group;
  out.format = q.format;
  out.codes = code_tensor(dtype, code_shape, q, target.channel_axis != 0);
  out.scales = Tensor::from_vector<float>(param_shape, swap ? transposed(q.scales, C, G) : q.scales);
  if (!q.format.symmetric) out.zero_points = code_tensor(dtype, param_shape, swap ? transposed(q.zero_points, C, G) : q.zero_points);
  return out;
}

Shape qdq_param_shape(const Layer& target, int64_t channels, int64_t groups, bool blocked) {
  if (!blocked) return {channels};
  return target.channel_axis == 0 ? Shape{channels, groups} : Shape{groups, channels};
}

Result<EmitResult> emit_qdq(ir::Graph& graph, const Layer& target, const QuantizedMatrix& q, GraphEdits& edits) {
  return emit_qdq_tensors(graph, target, qdq_tensors(target, q), edits);
}

Result<EmitResult> emit_qdq_tensors(ir::Graph& graph, const Layer& target, QdqTensors tensors, GraphEdits& edits) {
  const std::string& w = target.weight;
  const bool blocked = tensors.group < target.reduction;
  const bool flattened = blocked && target.shape.size() > 2;
  EmitResult result;
  result.min_opset = blocked || tensors.format.bits == 4 ? 21 : 13;
  const int64_t axis = !blocked ? target.channel_axis : target.channel_axis == 0 ? 1 : 0;

  ir::Node dq;
  dq.op_type = "DequantizeLinear";
  dq.name = fresh_node_name(graph, edits, w + "_DequantizeLinear");
  const std::string qname = fresh_value(graph, edits, w + "_quantized");
  const std::string sname = fresh_value(graph, edits, w + "_scale");
  result.bytes += tensors.codes.nbytes() + tensors.scales.nbytes();
  add_initializer(graph, edits, qname, std::move(tensors.codes));
  add_initializer(graph, edits, sname, std::move(tensors.scales));
  dq.inputs = {qname, sname};
  if (!tensors.format.symmetric) {
    const std::string zname = fresh_value(graph, edits, w + "_zero_point");
    result.bytes += tensors.zero_points.nbytes();
    add_initializer(graph, edits, zname, std::move(tensors.zero_points));
    dq.inputs.push_back(zname);
  }
  dq.attributes.push_back(ir::int_attribute("axis", axis));
  if (blocked) dq.attributes.push_back(ir::int_attribute("block_size", tensors.group));

  const std::string out = fresh_value(graph, edits, w + "_dequantized");
  if (flattened) {
    const std::string flat = fresh_value(graph, edits, w + "_dequantized_2d");
    const std::string shape_name = fresh_value(graph, edits, w + "_shape");
    Tensor shape_t = Tensor::from_vector<int64_t>({int64_t(target.shape.size())}, target.shape);
    result.bytes += shape_t.nbytes();
    add_initializer(graph, edits, shape_name, std::move(shape_t));
    dq.outputs = {flat};
    ir::Node reshape;
    reshape.op_type = "Reshape";
    reshape.name = fresh_node_name(graph, edits, w + "_Reshape");
    reshape.inputs = {flat, shape_name};
    reshape.outputs = {out};
    edits.prepend.push_back(std::move(dq));
    edits.prepend.push_back(std::move(reshape));
  } else {
    dq.outputs = {out};
    edits.prepend.push_back(std::move(dq));
  }
  redirect_uses(graph, edits, w, out);
  drop_weight(graph, edits, w);
  return result;
}

std::string matmul_nbits_blocker(const ir::Graph& graph, const Layer& target, const QuantizedMatrix& q,
                                 int64_t block) {
  if (q.format.bits != 4) return "MatMulNBits is used for 4 bits only";
  if (!is_pow2_at_least_16(block)) return "block " + std::to_string(block) + " is not a power of 2 >= 16";
  if (!(q.group == block || (q.group == q.cols && q.cols <= block))) return "the groups do not match the block size";
  for (const auto& u : target.uses) {
    const ir::Node& node = graph.nodes[u.node];
    if (u.kind == UseKind::kGather || u.kind == UseKind::kConv) return "the weight is shared with a " + node.op_type;
    if (u.kind != UseKind::kGemm) continue;
    if (node.attr_int("transA", 0) != 0) return "Gemm '" + node.name + "' has transA=1";
    if (node.attr_float("alpha", 1.0f) != 1.0f) return "Gemm '" + node.name + "' has alpha != 1";
    if (node.has_input(2)) {
      const Tensor* c = graph.find_initializer(node.inputs[2]);
      const bool vector_c = c && c->dtype() == DType::kF32 && c->numel() == target.channels && c->rank() <= 2 &&
                            (c->rank() < 2 || c->dim(0) == 1);
      if (!vector_c && node.attr_float("beta", 1.0f) != 1.0f) return "Gemm '" + node.name + "' has beta != 1 with a non-constant C";
    }
  }
  return "";
}

Result<EmitResult> emit_matmul_nbits(ir::Graph& graph, const Layer& target, const QuantizedMatrix& q,
                                     int64_t block, GraphEdits& edits) {
  const std::string& w = target.weight;
  const int64_t N = q.rows, K = q.cols;
  const int64_t k_blocks = (K + block - 1) / block, blob = block / 2;
  const int64_t G = q.groups();  // == k_blocks (blocked) or 1 (K <= block)
  const int32_t offset = q.format.symmetric ? 8 : 0;

  Tensor b = Tensor::zeros(DType::kU8, {N, k_blocks, blob});
  uint8_t* bp = b.mutable_data<uint8_t>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < k_blocks; ++j) {
      const int32_t pad = q.format.symmetric ? 8 : q.zero_points[size_t(n * G + std::min(j, G - 1))];
      uint8_t* blob_bytes = bp + (n * k_blocks + j) * blob;
      for (int64_t t = 0; t < block; ++t) {
        const int64_t k = j * block + t;
        const int32_t v = k < K ? q.codes[size_t(n * K + k)] + offset : pad;
        nibbles::set(blob_bytes, t, v);
      }
    }
  EmitResult result;
  result.matmul_nbits = true;
  result.min_opset = 0;
  const std::string bname = fresh_value(graph, edits, w + "_nbits");
  const std::string sname = fresh_value(graph, edits, w + "_scale");
  Tensor st = Tensor::from_vector<float>({N * k_blocks}, q.scales);
  result.bytes += b.nbytes() + st.nbytes();
  add_initializer(graph, edits, bname, std::move(b));
  add_initializer(graph, edits, sname, std::move(st));
  std::string zname;
  if (!q.format.symmetric) {
    const int64_t per_column = (k_blocks + 1) / 2;
    Tensor zt = Tensor::zeros(DType::kU8, {N * per_column});
    uint8_t* zp = zt.mutable_data<uint8_t>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < k_blocks; ++j)
        nibbles::set(zp + n * per_column, j, q.zero_points[size_t(n * G + j)]);
    zname = fresh_value(graph, edits, w + "_zero_point");
    result.bytes += zt.nbytes();
    add_initializer(graph, edits, zname, std::move(zt));
  }

  for (const auto& u : target.uses) {
    ir::Node& node = graph.nodes[u.node];
    const std::string a = node.inputs[0];
    std::string bias;
    std::string add_input;  // a non-constant Gemm C, added after the op
    if (u.kind == UseKind::kGemm && node.has_input(2)) {
      const std::string& c_name = node.inputs[2];
      const Tensor* c = graph.find_initializer(c_name);
      const float beta = node.attr_float("beta", 1.0f);
      if (c && c->dtype() == DType::kF32 && c->numel() == N && (c->rank() < 2 || c->dim(0) == 1)) {
        if (beta == 1.0f && c->rank() == 1) {
          bias = c_name;
        } else {
          std::vector<float> v(c->data<float>(), c->data<float>() + N);
          for (float& x : v) x *= beta;
          bias = fresh_value(graph, edits, c_name + "_bias");
          add_initializer(graph, edits, bias, Tensor::from_vector<float>({N}, v));
        }
      } else {
        add_input = c_name;
      }
    }
    if (u.kind == UseKind::kMatMulTransposed) edits.removed.insert(u.transpose_node);
    node.op_type = "MatMulNBits";
    node.domain = "com.microsoft";
    node.attributes = {ir::int_attribute("K", K), ir::int_attribute("N", N), ir::int_attribute("bits", 4), ir::int_attribute("block_size", block)};
    UsedNames& used = used_values(graph, edits);
    for (const auto& in : node.inputs)
      if (!in.empty()) used.remove(in);
    node.inputs = {a, bname, sname, zname, "", bias};
    while (!node.inputs.empty() && node.inputs.back().empty()) node.inputs.pop_back();
    for (const auto& in : node.inputs)
      if (!in.empty()) used.add(in);
    if (!add_input.empty()) {
      const std::string y = node.outputs[0];
      node.outputs[0] = fresh_value(graph, edits, y + "_matmul");
      used.remove(y);
      used.add(node.outputs[0]);
      ir::Node add;
      add.op_type = "Add";
      add.name = fresh_node_name(graph, edits, node.name + "_bias");
      add.inputs = {node.outputs[0], add_input};
      add.outputs = {y};
      edits.after[u.node].push_back(std::move(add));
    }
  }
  drop_weight(graph, edits, w);
  return result;
}

Status raise_default_opset(ir::Model& model, int64_t version) {
  return upgrade_default_opset(model, version).status();
}

}  // namespace ember::passes::quant
