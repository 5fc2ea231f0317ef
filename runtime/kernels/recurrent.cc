// Recurrent ops: RNN, GRU, LSTM (opsets 7 and 14), forward / reverse / bidirectional, any
// activations, clip, sequence_lens, initial states, peepholes, layout 0 and 1.
//   RNN:  H = f(X W^T + H R^T + Wb + Rb)
//   GRU:  z = f(.. z), r = f(.. r), h~ = g(X Wh^T + (r * H) Rh^T + Rbh + Wbh)   (linear_before_reset 0)
//                                   h~ = g(X Wh^T + r * (H Rh^T + Rbh) + Wbh)   (linear_before_reset 1)
//         H = (1 - z) * h~ + z * H
//   LSTM: i = f(.. + Pi*C), f = f(.. + Pf*C), c~ = g(..), C = f*C + i*c~, o = f(.. + Po*C), H = o * h(C)
// Gate order in W, R, B: RNN i; GRU z r h; LSTM i o f c (peepholes i o f). The input products
// X W^T of all steps are one GEMM; the recurrent product runs per step. Steps at or past a
// batch row's sequence length give zeros in Y and keep that row's state.
#include <algorithm>
#include <cmath>

#include "runtime/gemm/sgemm.h"
#include "runtime/kernels/half_fallback.h"

namespace ember::runtime {
namespace {

enum class Cell { kRnn, kGru, kLstm };

struct Activation {
  std::string name;
  float alpha = 0, beta = 0;
  float operator()(float x) const {
    if (name == "Sigmoid") return 1 / (1 + std::exp(-x));
    if (name == "Tanh") return std::tanh(x);
    if (name == "Relu") return std::max(x, 0.0f);
    if (name == "Affine") return alpha * x + beta;
    if (name == "LeakyRelu") return x < 0 ? alpha * x : x;
    if (name == "ThresholdedRelu") return x > alpha ? x : 0;
    if (name == "ScaledTanh") return alpha * std::tanh(beta * x);
    if (name == "HardSigmoid") return std::clamp(alpha * x + beta, 0.0f, 1.0f);
    if (name == "Elu") return x < 0 ? alpha * std::expm1(x) : x;
    if (name == "Softsign") return x / (1 + std::fabs(x));
    return std::log1p(std::exp(x));  // Softplus
  }
};

// Defaults of alpha/beta for the activations that take them (the ONNX ops' own defaults).
bool takes_alpha(const std::string& n, float& a) {
  if (n == "LeakyRelu") return a = 0.01f, true;
  if (n == "ThresholdedRelu" || n == "Elu" || n == "ScaledTanh" || n == "Affine") return a = 1.0f, true;
  if (n == "HardSigmoid") return a = 0.2f, true;
  return false;
}
bool takes_beta(const std::string& n, float& b) {
  if (n == "ScaledTanh") return b = 1.0f, true;
  if (n == "HardSigmoid") return b = 0.5f, true;
  if (n == "Affine") return b = 0.0f, true;
  return false;
}

Result<std::vector<Activation>> activations(const RunContext& ctx, Cell cell, int dirs) {
  static const std::vector<std::string> kKnown = {"Sigmoid", "Tanh", "Relu", "Affine", "LeakyRelu", "ThresholdedRelu",
                                                  "ScaledTanh", "HardSigmoid", "Elu", "Softsign", "Softplus"};
  const std::vector<std::string> defaults = cell == Cell::kRnn ? std::vector<std::string>{"Tanh"}
                                            : cell == Cell::kGru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                                 : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
  const ir::Attribute* a = ctx.node.find_attr("activations");
  std::vector<std::string> names = a ? a->strings : std::vector<std::string>{};
  if (names.empty())
    for (int d = 0; d < dirs; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
  if (names.size() == defaults.size() && dirs == 2) names.insert(names.end(), names.begin(), names.end());
  if (names.size() != defaults.size() * size_t(dirs))
    return invalid_input(ctx.where() + ": activations must list " + std::to_string(defaults.size() * size_t(dirs)) + " functions");
  const ir::Attribute* alphas = ctx.node.find_attr("activation_alpha");
  const ir::Attribute* betas = ctx.node.find_attr("activation_beta");
  size_t ai = 0, bi = 0;
  std::vector<Activation> out;
  for (const auto& n : names) {
    auto known = std::find_if(kKnown.begin(), kKnown.end(), [&](const std::string& k) {
      return k.size() == n.size() && std::equal(k.begin(), k.end(), n.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
    });
    if (known == kKnown.end()) return invalid_input(ctx.where() + ": unknown activation '" + n + "'");
    Activation act{*known};
    if (takes_alpha(act.name, act.alpha) && alphas && ai < alphas->floats.size()) act.alpha = alphas->floats[ai++];
    if (takes_beta(act.name, act.beta) && betas && bi < betas->floats.size()) act.beta = betas->floats[bi++];
    out.push_back(act);
  }
  return out;
}

Status run_recurrent(RunContext& ctx, Cell cell) {
  const int gates = cell == Cell::kRnn ? 1 : cell == Cell::kGru ? 3 : 4;
  const int64_t hidden = ctx.node.attr_int("hidden_size", 0);
  const std::string direction = ctx.node.attr_string("direction", "forward");
  const int dirs = direction == "bidirectional" ? 2 : 1;
  const bool layout1 = ctx.node.attr_int("layout", 0) == 1;
  const float clip = ctx.node.attr_float("clip", 0.0f);
  const bool linear_before_reset = ctx.node.attr_int("linear_before_reset", 0) != 0;
  const bool input_forget = ctx.node.attr_int("input_forget", 0) != 0;
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional")
    return invalid_input(ctx.where() + ": unknown direction '" + direction + "'");
  if (!ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(2)) return invalid_input(ctx.where() + ": X, W and R are required");
  const Tensor& X = ctx.input(0);
  const Tensor& W = ctx.input(1);
  const Tensor& R = ctx.input(2);
  if (X.dtype() != DType::kF32 || W.dtype() != DType::kF32 || R.dtype() != DType::kF32)
    return invalid_input(ctx.where() + ": X, W and R must be float32");
  if (X.rank() != 3 || W.rank() != 3 || R.rank() != 3) return invalid_input(ctx.where() + ": X, W and R must have rank 3");
  const int64_t seq = layout1 ? X.dim(1) : X.dim(0), batch = layout1 ? X.dim(0) : X.dim(1), in = X.dim(2);
  const int64_t G = gates * hidden;
  if (hidden <= 0 || W.dim(0) != dirs || W.dim(1) != G || W.dim(2) != in || R.dim(0) != dirs || R.dim(1) != G || R.dim(2) != hidden)
    return invalid_input(ctx.where() + ": W " + shape_to_string(W.shape()) + " / R " + shape_to_string(R.shape()) +
                         " do not match hidden_size " + std::to_string(hidden) + ", input size " + std::to_string(in) + " and " + direction);
  const float* B = ctx.has_input(3) ? ctx.input(3).data<float>() : nullptr;
  if (B && ctx.input(3).numel() != dirs * 2 * G) return invalid_input(ctx.where() + ": B must have shape [" + std::to_string(dirs) + ", " + std::to_string(2 * G) + "]");
  std::vector<int64_t> lens(size_t(batch), seq);
  if (ctx.has_input(4)) {
    const Tensor& s = ctx.input(4);
    if (s.numel() != batch) return invalid_input(ctx.where() + ": sequence_lens must have one value per batch row");
    for (int64_t b = 0; b < batch; ++b) {
      lens[size_t(b)] = s.dtype() == DType::kI64 ? s.data<int64_t>()[b] : s.data<int32_t>()[b];
      if (lens[size_t(b)] < 0 || lens[size_t(b)] > seq) return invalid_input(ctx.where() + ": sequence_lens value out of range");
    }
  }
  const float* P = cell == Cell::kLstm && ctx.has_input(7) ? ctx.input(7).data<float>() : nullptr;
  EMBER_ASSIGN_OR_RETURN(std::vector<Activation> acts, activations(ctx, cell, dirs));
  const size_t per_dir = acts.size() / size_t(dirs);
  const int64_t state_size = dirs * batch * hidden;
  auto initial = [&](size_t index) -> Result<std::vector<float>> {
    std::vector<float> s(size_t(state_size), 0.0f);
    if (!ctx.has_input(index)) return s;
    const Tensor& t = ctx.input(index);
    if (t.numel() != state_size || t.dtype() != DType::kF32) return invalid_input(ctx.where() + ": initial state " + std::to_string(index) + " has the wrong size or type");
    for (int d = 0; d < dirs; ++d)
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t h = 0; h < hidden; ++h)
          s[size_t((d * batch + b) * hidden + h)] = t.data<float>()[layout1 ? (b * dirs + d) * hidden + h : (d * batch + b) * hidden + h];
    return s;
  };
  EMBER_ASSIGN_OR_RETURN(std::vector<float> H, initial(5));
  EMBER_ASSIGN_OR_RETURN(std::vector<float> C, initial(6));
  std::vector<float> Y(size_t(seq * dirs * batch * hidden), 0.0f);  // [seq, dirs, batch, hidden]
  // X as [seq, batch, in] rows.
  std::vector<float> xs(size_t(seq * batch * in));
  for (int64_t t = 0; t < seq; ++t)
    for (int64_t b = 0; b < batch; ++b)
      std::copy_n(X.data<float>() + (layout1 ? b * seq + t : t * batch + b) * in, in, &xs[size_t((t * batch + b) * in)]);
  std::vector<float> xw(size_t(seq * batch * G)), hr(size_t(batch * G)), gate(static_cast<size_t>(G));
  std::vector<float> zv(static_cast<size_t>(hidden)), rv(static_cast<size_t>(hidden));
  auto clipped = [&](float v) { return clip > 0 ? std::clamp(v, -clip, clip) : v; };
  for (int d = 0; d < dirs; ++d) {
    const bool reverse = direction == "reverse" || d == 1;
    const float* w = W.data<float>() + d * G * in;
    const float* r = R.data<float>() + d * G * hidden;
    const float* wb = B ? B + d * 2 * G : nullptr;
    const float* rb = B ? wb + G : nullptr;
    const Activation &f = acts[size_t(d) * per_dir], &g = acts[size_t(d) * per_dir + (per_dir > 1 ? 1 : 0)],
                     &hact = acts[size_t(d) * per_dir + (per_dir > 2 ? 2 : 0)];
    sgemm(false, true, seq * batch, G, in, 1.0f, xs.data(), in, w, in, 0.0f, xw.data(), G);
    float* h_state = &H[size_t(d * batch * hidden)];
    float* c_state = &C[size_t(d * batch * hidden)];
    for (int64_t step = 0; step < seq; ++step) {
      sgemm(false, true, batch, G, hidden, 1.0f, h_state, hidden, r, hidden, 0.0f, hr.data(), G);
      for (int64_t b = 0; b < batch; ++b) {
        const int64_t len = lens[size_t(b)];
        if (step >= len) continue;
        const int64_t t = reverse ? len - 1 - step : step;
        const float* x = &xw[size_t((t * batch + b) * G)];
        const float* hrow = &hr[size_t(b * G)];
        float* hs = h_state + b * hidden;
        float* cs = c_state + b * hidden;
        auto pre = [&](int k, int64_t j) { return x[k * hidden + j] + (wb ? wb[k * hidden + j] : 0.0f); };
        auto rec = [&](int k, int64_t j) { return hrow[k * hidden + j] + (rb ? rb[k * hidden + j] : 0.0f); };
        if (cell == Cell::kGru)
          for (int64_t j = 0; j < hidden; ++j) {
            zv[size_t(j)] = f(clipped(pre(0, j) + rec(0, j)));
            rv[size_t(j)] = f(clipped(pre(1, j) + rec(1, j)));
          }
        for (int64_t j = 0; j < hidden; ++j) {
          if (cell == Cell::kRnn) {
            gate[size_t(j)] = f(clipped(pre(0, j) + rec(0, j)));
          } else if (cell == Cell::kGru) {
            float hh;
            if (linear_before_reset) {
              hh = g(clipped(pre(2, j) + rv[size_t(j)] * rec(2, j)));
            } else {  // (r * H) Rh^T: its own product, since r multiplies H before Rh
              float acc = 0;
              const float* rrow = r + (2 * hidden + j) * hidden;
              for (int64_t k = 0; k < hidden; ++k) acc += rv[size_t(k)] * hs[k] * rrow[k];
              hh = g(clipped(pre(2, j) + acc + (rb ? rb[2 * hidden + j] : 0.0f)));
            }
            gate[size_t(j)] = (1 - zv[size_t(j)]) * hh + zv[size_t(j)] * hs[j];
          } else {
            const float c_prev = cs[j];
            const float* p = P ? P + d * 3 * hidden : nullptr;
            const float i = f(clipped(pre(0, j) + rec(0, j) + (p ? p[j] * c_prev : 0.0f)));
            const float fg = input_forget ? 1 - i : f(clipped(pre(2, j) + rec(2, j) + (p ? p[2 * hidden + j] * c_prev : 0.0f)));
            const float cc = g(clipped(pre(3, j) + rec(3, j)));
            const float c_new = fg * c_prev + i * cc;
            const float o = f(clipped(pre(1, j) + rec(1, j) + (p ? p[hidden + j] * c_new : 0.0f)));
            gate[size_t(hidden + j)] = c_new;
            gate[size_t(j)] = o * hact(c_new);
          }
        }
        for (int64_t j = 0; j < hidden; ++j) {
          hs[j] = gate[size_t(j)];
          if (cell == Cell::kLstm) cs[j] = gate[size_t(hidden + j)];
        }
        std::copy_n(hs, hidden, &Y[size_t(((t * dirs + d) * batch + b) * hidden)]);
      }
    }
  }
  // Outputs in the requested layout.
  if (ctx.outputs.size() > 0 && !ctx.node.outputs[0].empty()) {
    Tensor& y = ctx.allocate_output(0, DType::kF32, layout1 ? Shape{batch, seq, dirs, hidden} : Shape{seq, dirs, batch, hidden});
    for (int64_t t = 0; t < seq; ++t)
      for (int d = 0; d < dirs; ++d)
        for (int64_t b = 0; b < batch; ++b)
          std::copy_n(&Y[size_t(((t * dirs + d) * batch + b) * hidden)], hidden,
                      y.mutable_data<float>() + (layout1 ? ((b * seq + t) * dirs + d) : ((t * dirs + d) * batch + b)) * hidden);
  }
  auto write_state = [&](size_t out, const std::vector<float>& s) {
    if (ctx.outputs.size() <= out || ctx.node.outputs[out].empty()) return;
    Tensor& y = ctx.allocate_output(out, DType::kF32, layout1 ? Shape{batch, dirs, hidden} : Shape{dirs, batch, hidden});
    for (int d = 0; d < dirs; ++d)
      for (int64_t b = 0; b < batch; ++b)
        std::copy_n(&s[size_t((d * batch + b) * hidden)], hidden, y.mutable_data<float>() + (layout1 ? b * dirs + d : d * batch + b) * hidden);
  };
  write_state(1, H);
  if (cell == Cell::kLstm) write_state(2, C);
  return Status::Ok();
}

template <Cell cell>
Status run_cell(RunContext& ctx) {
  return run_recurrent(ctx, cell);
}

}  // namespace

void register_recurrent_kernels(KernelRegistry& registry) {
  for (int since : {7, 14}) {
    registry.add_function("RNN", "", since, with_half_support<run_cell<Cell::kRnn>>);
    registry.add_function("GRU", "", since, with_half_support<run_cell<Cell::kGru>>);
    registry.add_function("LSTM", "", since, with_half_support<run_cell<Cell::kLstm>>);
  }
}

}  // namespace ember::runtime
