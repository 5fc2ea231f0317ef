#include "bench/llama_model.h"

#include <cmath>

#include "ir/builders.h"

namespace ember::bench {
namespace {

using ir::Node;

int64_t per_layer_parameters(const LlamaConfig& c) {
  const int64_t kv = c.kv_heads * c.head_dim();
  return 2 * c.hidden * c.hidden + 2 * c.hidden * kv + 3 * c.hidden * c.ffn + 2 * c.hidden;
}

// Appends nodes with unique names and declares each float value's rank, so that the runtime's
// load-time fusions (which need known float32 operands) see them.
class Builder {
 public:
  explicit Builder(ir::Graph& graph) : graph_(graph) {}

  std::string op(const std::string& type, std::vector<std::string> inputs, std::vector<ir::Attribute> attrs = {},
                 int float_rank = 0) {
    const std::string out = type + "_" + std::to_string(counter_++);
    graph_.nodes.push_back(ir::make_node(type, out + "_node", std::move(inputs), {out}, std::move(attrs)));
    if (float_rank > 0) declare(out, float_rank);
    return out;
  }

  void declare(const std::string& name, int rank) {
    ir::ValueInfo v;
    v.name = name;
    v.elem_type = DType::kF32;
    v.has_shape = true;
    v.dims.assign(size_t(rank), ir::Dim{});
    graph_.value_info.push_back(v);
  }

  std::string constant_ints(const std::string& name, std::vector<int64_t> values) {
    if (!graph_.find_initializer(name))
      graph_.set_initializer(name, Tensor::from_vector<int64_t>({int64_t(values.size())}, values));
    return name;
  }

  std::string constant_float(const std::string& name, float value) {
    if (!graph_.find_initializer(name)) graph_.set_initializer(name, Tensor::scalar<float>(value));
    return name;
  }

 private:
  ir::Graph& graph_;
  int counter_ = 0;
};

std::string rms_norm(Builder& b, const LlamaConfig& c, const std::string& x, const std::string& weight) {
  const std::string sq = b.op("Mul", {x, x}, {}, 3);
  const std::string mean = b.op("ReduceMean", {sq}, {ir::ints_attribute("axes", {-1}), ir::int_attribute("keepdims", 1)}, 3);
  const std::string var = b.op("Add", {mean, b.constant_float("rms_eps", c.rms_eps)}, {}, 3);
  const std::string rms = b.op("Sqrt", {var}, {}, 3);
  const std::string normed = b.op("Div", {x, rms}, {}, 3);
  return b.op("Mul", {normed, weight}, {}, 3);
}

// [B, S, heads * D] -> [B, heads, S, D]
std::string split_heads(Builder& b, const LlamaConfig& c, const std::string& x, int64_t heads) {
  const std::string shape = b.constant_ints("shape_heads_" + std::to_string(heads), {0, 0, heads, c.head_dim()});
  const std::string r = b.op("Reshape", {x, shape}, {}, 4);
  return b.op("Transpose", {r}, {ir::ints_attribute("perm", {0, 2, 1, 3})}, 4);
}

std::string rope(Builder& b, const LlamaConfig& c, const std::string& t, const std::string& cos, const std::string& sin) {
  const int64_t half = c.head_dim() / 2;
  const std::string axis = b.constant_ints("axis_last", {3});
  const std::string lo = b.op("Slice", {t, b.constant_ints("zero", {0}), b.constant_ints("half", {half}), axis}, {}, 4);
  const std::string hi = b.op("Slice", {t, b.constant_ints("half", {half}), b.constant_ints("head_dim", {c.head_dim()}), axis}, {}, 4);
  const std::string rotated = b.op("Concat", {b.op("Neg", {hi}, {}, 4), lo}, {ir::int_attribute("axis", 3)}, 4);
  return b.op("Add", {b.op("Mul", {t, cos}, {}, 4), b.op("Mul", {rotated, sin}, {}, 4)}, {}, 4);
}

// [B, KVH, S, D] -> [B, NH, S, D], each key/value head serving NH / KVH query heads.
std::string repeat_kv(Builder& b, const LlamaConfig& c, const std::string& t) {
  const int64_t groups = c.heads / c.kv_heads;
  if (groups == 1) return t;
  const std::string u = b.op("Unsqueeze", {t, b.constant_ints("axis_2", {2})}, {}, 5);
  const std::string copies = b.op("Concat", std::vector<std::string>(size_t(groups), u), {ir::int_attribute("axis", 2)}, 5);
  return b.op("Reshape", {copies, b.constant_ints("shape_repeated", {0, c.heads, -1, c.head_dim()})}, {}, 4);
}

struct Tables {
  std::string cos, sin, mask;
};

std::string attention(Builder& b, const LlamaConfig& c, const std::string& x, const std::string& p, const Tables& t) {
  const std::string q = rope(b, c, split_heads(b, c, b.op("MatMul", {x, p + "self_attn.q_proj.weight"}, {}, 3), c.heads), t.cos, t.sin);
  const std::string k = rope(b, c, split_heads(b, c, b.op("MatMul", {x, p + "self_attn.k_proj.weight"}, {}, 3), c.kv_heads), t.cos, t.sin);
  const std::string v = split_heads(b, c, b.op("MatMul", {x, p + "self_attn.v_proj.weight"}, {}, 3), c.kv_heads);
  const std::string kt = b.op("Transpose", {repeat_kv(b, c, k)}, {ir::ints_attribute("perm", {0, 1, 3, 2})}, 4);
  const std::string scores = b.op("MatMul", {q, kt}, {}, 4);
  const float scale = 1.0f / std::sqrt(float(c.head_dim()));
  const std::string scaled = b.op("Mul", {scores, b.constant_float("attn_scale", scale)}, {}, 4);
  const std::string probs = b.op("Softmax", {b.op("Add", {scaled, t.mask}, {}, 4)}, {ir::int_attribute("axis", -1)}, 4);
  const std::string ctx = b.op("MatMul", {probs, repeat_kv(b, c, v)}, {}, 4);
  const std::string merged = b.op("Transpose", {ctx}, {ir::ints_attribute("perm", {0, 2, 1, 3})}, 4);
  const std::string flat = b.op("Reshape", {merged, b.constant_ints("shape_hidden", {0, 0, c.hidden})}, {}, 3);
  return b.op("MatMul", {flat, p + "self_attn.o_proj.weight"}, {}, 3);
}

std::string swiglu(Builder& b, const std::string& x, const std::string& p) {
  const std::string gate = b.op("MatMul", {x, p + "mlp.gate_proj.weight"}, {}, 3);
  const std::string up = b.op("MatMul", {x, p + "mlp.up_proj.weight"}, {}, 3);
  const std::string silu = b.op("Mul", {gate, b.op("Sigmoid", {gate}, {}, 3)}, {}, 3);
  return b.op("MatMul", {b.op("Mul", {silu, up}, {}, 3), p + "mlp.down_proj.weight"}, {}, 3);
}

// Rotary tables [max_seq, D] (rotate-half layout: frequency i at columns i and i + D/2) and the
// causal mask [max_seq, max_seq] (0 on and below the diagonal, -1e9 above).
void add_tables(ir::Graph& g, const LlamaConfig& c) {
  const int64_t d = c.head_dim(), half = d / 2, n = c.max_seq;
  Tensor cos = Tensor::zeros(DType::kF32, {n, d}), sin = Tensor::zeros(DType::kF32, {n, d});
  for (int64_t pos = 0; pos < n; ++pos)
    for (int64_t i = 0; i < half; ++i) {
      const double angle = double(pos) * std::pow(double(c.rope_theta), -2.0 * double(i) / double(d));
      for (int64_t col : {i, i + half}) {
        cos.mutable_data<float>()[pos * d + col] = float(std::cos(angle));
        sin.mutable_data<float>()[pos * d + col] = float(std::sin(angle));
      }
    }
  Tensor mask = Tensor::zeros(DType::kF32, {n, n});
  for (int64_t r = 0; r < n; ++r)
    for (int64_t col = r + 1; col < n; ++col) mask.mutable_data<float>()[r * n + col] = -1e9f;
  g.set_initializer("rope.cos_table", cos);
  g.set_initializer("rope.sin_table", sin);
  g.set_initializer("causal_mask_table", mask);
}

// Rows 0..S-1 of the tables, S read from the input's shape.
Tables slice_tables(Builder& b, const std::string& ids) {
  const std::string seq = b.op("Gather", {b.op("Shape", {ids}), b.constant_ints("index_1", {1})}, {ir::int_attribute("axis", 0)});
  const std::string zero = b.constant_ints("zero", {0});
  Tables t;
  t.cos = b.op("Slice", {"rope.cos_table", zero, seq, zero}, {}, 2);
  t.sin = b.op("Slice", {"rope.sin_table", zero, seq, zero}, {}, 2);
  const std::string ends = b.op("Concat", {seq, seq}, {ir::int_attribute("axis", 0)});
  t.mask = b.op("Slice", {"causal_mask_table", b.constant_ints("zeros_2", {0, 0}), ends, b.constant_ints("axes_01", {0, 1})}, {}, 2);
  return t;
}

}  // namespace

int64_t LlamaConfig::parameters() const {
  return layers * per_layer_parameters(*this) + 2 * vocab * hidden + hidden;
}

LlamaConfig config_for_parameters(double billions) {
  LlamaConfig c;
  if (billions < 0.3) {
    c.hidden = 768, c.ffn = 2048, c.heads = 12, c.kv_heads = 4;
  } else if (billions >= 1.5) {
    c.hidden = 3072, c.ffn = 8192, c.heads = 24, c.kv_heads = 8;
  }
  const double target = billions * 1e9;
  const double fixed = double(2 * c.vocab * c.hidden + c.hidden);
  c.layers = std::max<int64_t>(1, std::llround((target - fixed) / double(per_layer_parameters(c))));
  return c;
}

std::string config_error(const LlamaConfig& c) {
  for (int64_t v : {c.hidden, c.ffn, c.layers, c.heads, c.kv_heads, c.vocab, c.max_seq})
    if (v <= 0) return "every size must be positive";
  if (c.hidden % c.heads != 0) return "hidden must be a multiple of heads";
  if (c.heads % c.kv_heads != 0) return "heads must be a multiple of kv-heads";
  if (c.head_dim() % 2 != 0) return "the head dimension (hidden / heads) must be even for rotary embeddings";
  return "";
}

std::vector<WeightSpec> llama_weight_specs(const LlamaConfig& c) {
  const int64_t kv = c.kv_heads * c.head_dim();
  const float in_std = 1.0f / std::sqrt(float(c.hidden));
  // Residual branches scaled down with depth, as GPT-2/Llama initialisations do, so that the
  // residual stream of a random model stays near unit scale.
  const float out_scale = 1.0f / std::sqrt(2.0f * float(c.layers));
  std::vector<WeightSpec> specs = {{"model.embed_tokens.weight", {c.vocab, c.hidden}, 1.0f}};
  for (int64_t l = 0; l < c.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    specs.push_back({p + "input_layernorm.weight", {c.hidden}, 0});
    specs.push_back({p + "self_attn.q_proj.weight", {c.hidden, c.hidden}, in_std});
    specs.push_back({p + "self_attn.k_proj.weight", {c.hidden, kv}, in_std});
    specs.push_back({p + "self_attn.v_proj.weight", {c.hidden, kv}, in_std});
    specs.push_back({p + "self_attn.o_proj.weight", {c.hidden, c.hidden}, in_std * out_scale});
    specs.push_back({p + "post_attention_layernorm.weight", {c.hidden}, 0});
    specs.push_back({p + "mlp.gate_proj.weight", {c.hidden, c.ffn}, in_std});
    specs.push_back({p + "mlp.up_proj.weight", {c.hidden, c.ffn}, in_std});
    specs.push_back({p + "mlp.down_proj.weight", {c.ffn, c.hidden}, out_scale / std::sqrt(float(c.ffn))});
  }
  specs.push_back({"model.norm.weight", {c.hidden}, 0});
  specs.push_back({"lm_head.weight", {c.hidden, c.vocab}, in_std});
  return specs;
}

ir::Model build_llama_graph(const LlamaConfig& c) {
  ir::Model model;
  model.ir_version = 8;
  model.producer_name = "ember gen_llama";
  model.opset_imports = {{"", 17}};
  ir::Graph& g = model.graph;
  g.name = "llama";
  ir::ValueInfo ids;
  ids.name = "input_ids";
  ids.elem_type = DType::kI64;
  ids.has_shape = true;
  ids.dims = {ir::Dim{-1, "batch"}, ir::Dim{-1, "sequence"}};
  g.inputs.push_back(ids);
  add_tables(g, c);
  Builder b(g);
  const Tables tables = slice_tables(b, ids.name);
  std::string x = b.op("Gather", {"model.embed_tokens.weight", ids.name}, {ir::int_attribute("axis", 0)}, 3);
  for (int64_t l = 0; l < c.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    x = b.op("Add", {x, attention(b, c, rms_norm(b, c, x, p + "input_layernorm.weight"), p, tables)}, {}, 3);
    x = b.op("Add", {x, swiglu(b, rms_norm(b, c, x, p + "post_attention_layernorm.weight"), p)}, {}, 3);
  }
  const std::string normed = rms_norm(b, c, x, "model.norm.weight");
  g.nodes.push_back(ir::make_node("MatMul", "lm_head", {normed, "lm_head.weight"}, {"logits"}));
  ir::ValueInfo logits;
  logits.name = "logits";
  logits.elem_type = DType::kF32;
  logits.has_shape = true;
  logits.dims = {ir::Dim{-1, "batch"}, ir::Dim{-1, "sequence"}, ir::Dim{c.vocab, ""}};
  g.outputs.push_back(logits);
  return model;
}

}  // namespace ember::bench
