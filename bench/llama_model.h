// A Llama-shaped decoder as an ir::Model, for the scale benchmarks (issue 19): token embedding,
// then per layer RMSNorm -> grouped-query attention with rotary position embeddings (rotate-half
// form) and a causal mask -> residual, RMSNorm -> SwiGLU MLP -> residual; a final RMSNorm and an
// untied LM head. Standard ONNX opset 17 only, so onnxruntime runs it as well as Ember.
//
//   x = Gather(embed, ids)                                    [B, S, H]
//   rms(x) = x / sqrt(mean(x^2, -1) + eps) * w
//   q, k, v = rms(x) Wq, rms(x) Wk, rms(x) Wv                 heads: q NH, k/v KVH (NH % KVH == 0)
//   rope(t) = t * cos + concat(-t[D/2:], t[:D/2]) * sin        cos/sin rows 0..S-1 of a table
//   attn = softmax(rope(q) rope(k)^T / sqrt(D) + mask) v       k, v repeated NH/KVH times
//   x += attn Wo;  x += (silu(rms(x) Wg) * rms(x) Wu) Wd
//   logits = rms(x) Wlm                                       [B, S, V]
//
// Weights are [in, out] (ONNX MatMul's B), named like Hugging Face's Llama. The builder does
// not create the random weights: it lists them (name, shape, standard deviation) so that the
// generator can stream them to disk and attach views of the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/model.h"

namespace ember::bench {

struct LlamaConfig {
  int64_t hidden = 2048, ffn = 5632, layers = 22, heads = 32, kv_heads = 4, vocab = 32000, max_seq = 2048;
  float rms_eps = 1e-5f, rope_theta = 10000.0f;

  int64_t head_dim() const { return hidden / heads; }
  int64_t parameters() const;  // weights of the matrices, embedding and norms
};

// The family of shapes used for a parameter budget: hidden/ffn/heads by size class (0.1 B like
// a small Llama, ~1 B like TinyLlama, >= 1.5 B like Llama 3.2 3B), and the layer count that
// comes closest to `billions`.
LlamaConfig config_for_parameters(double billions);

// An empty message when the config is usable, else what is wrong with it.
std::string config_error(const LlamaConfig& c);

struct WeightSpec {
  std::string name;
  Shape shape;
  float stddev = 0;  // 0: all ones (the RMSNorm scales)
};

// The random weights the model needs, in the order the generator writes them.
std::vector<WeightSpec> llama_weight_specs(const LlamaConfig& c);

// The graph and its computed constants (rotary tables, causal mask, shape constants); the
// caller adds the initializers listed by llama_weight_specs.
ir::Model build_llama_graph(const LlamaConfig& c);

}  // namespace ember::bench
