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

#include "ir/memory_limits.h"
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

struct Spec {
  Cell cell = Cell::kRnn;
  int64_t hidden = 0, seq = 0, batch = 0, in = 0, G = 0;
  int dirs = 1;
  bool reverse = false, layout1 = false, linear_before_reset = false, input_forget = false;
  float clip = 0;
  std::vector<int64_t> lens;  // per batch row
  std::vector<Activation> acts;
  const float *W = nullptr, *R = nullptr, *B = nullptr, *P = nullptr;
};

Result<Spec> read_spec(const RunContext& ctx, Cell cell) {
  Spec s;
  s.cell = cell;
  const int gates = cell == Cell::kRnn ? 1 : cell == Cell::kGru ? 3 : 4;
  s.hidden = ctx.node.attr_int("hidden_size", 0);
  const std::string direction = ctx.node.attr_string("direction", "forward");
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional")
    return invalid_input(ctx.where() + ": unknown direction '" + direction + "'");
  s.dirs = direction == "bidirectional" ? 2 : 1;
  s.reverse = direction == "reverse";
  s.layout1 = ctx.node.attr_int("layout", 0) == 1;
  s.clip = ctx.node.attr_float("clip", 0.0f);
  s.linear_before_reset = ctx.node.attr_int("linear_before_reset", 0) != 0;
  s.input_forget = ctx.node.attr_int("input_forget", 0) != 0;
  if (!ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(2)) return invalid_input(ctx.where() + ": X, W and R are required");
  const Tensor &X = ctx.input(0), &W = ctx.input(1), &R = ctx.input(2);
  if (X.dtype() != DType::kF32 || W.dtype() != DType::kF32 || R.dtype() != DType::kF32 || X.rank() != 3 || W.rank() != 3 || R.rank() != 3)
    return invalid_input(ctx.where() + ": X, W and R must be float32 of rank 3");
  s.seq = s.layout1 ? X.dim(1) : X.dim(0);
  s.batch = s.layout1 ? X.dim(0) : X.dim(1);
  s.in = X.dim(2);
  EMBER_TRY(check_sequence_length(s.seq, ctx.where()));
  s.G = gates * s.hidden;
  if (s.hidden <= 0 || W.dim(0) != s.dirs || W.dim(1) != s.G || W.dim(2) != s.in || R.dim(0) != s.dirs || R.dim(1) != s.G || R.dim(2) != s.hidden)
    return invalid_input(ctx.where() + ": W " + shape_to_string(W.shape()) + " / R " + shape_to_string(R.shape()) + " do not match hidden_size " +
                         std::to_string(s.hidden) + ", input size " + std::to_string(s.in) + " and " + direction);
  s.W = W.data<float>();
  s.R = R.data<float>();
  s.B = ctx.has_input(3) ? ctx.input(3).data<float>() : nullptr;
  if (s.B && ctx.input(3).numel() != s.dirs * 2 * s.G)
    return invalid_input(ctx.where() + ": B must have shape [" + std::to_string(s.dirs) + ", " + std::to_string(2 * s.G) + "]");
  s.P = cell == Cell::kLstm && ctx.has_input(7) ? ctx.input(7).data<float>() : nullptr;
  if (s.P && ctx.input(7).numel() != s.dirs * 3 * s.hidden) return invalid_input(ctx.where() + ": P must have shape [dirs, 3 * hidden]");
  s.lens.assign(static_cast<size_t>(s.batch), s.seq);
  if (ctx.has_input(4)) {
    const Tensor& l = ctx.input(4);
    if (l.numel() != s.batch) return invalid_input(ctx.where() + ": sequence_lens must have one value per batch row");
    for (int64_t b = 0; b < s.batch; ++b) {
      s.lens[size_t(b)] = l.dtype() == DType::kI64 ? l.data<int64_t>()[b] : l.data<int32_t>()[b];
      if (s.lens[size_t(b)] < 0 || s.lens[size_t(b)] > s.seq) return invalid_input(ctx.where() + ": sequence_lens value out of range");
    }
  }
  EMBER_ASSIGN_OR_RETURN(s.acts, activations(ctx, cell, s.dirs));
  return s;
}

// An initial state input ([dirs, batch, hidden], or [batch, dirs, hidden] in layout 1) as
// [dirs, batch, hidden]; zeros when omitted.
Result<std::vector<float>> initial_state(const RunContext& ctx, const Spec& s, size_t index) {
  std::vector<float> state(static_cast<size_t>(s.dirs * s.batch * s.hidden), 0.0f);
  if (!ctx.has_input(index)) return state;
  const Tensor& t = ctx.input(index);
  if (t.numel() != int64_t(state.size()) || t.dtype() != DType::kF32)
    return invalid_input(ctx.where() + ": initial state " + std::to_string(index) + " has the wrong size or type");
  for (int d = 0; d < s.dirs; ++d)
    for (int64_t b = 0; b < s.batch; ++b)
      std::copy_n(t.data<float>() + (s.layout1 ? b * s.dirs + d : d * s.batch + b) * s.hidden, s.hidden,
                  &state[size_t((d * s.batch + b) * s.hidden)]);
  return state;
}

// One step of one batch row: x = X W^T row, hr = H R^T row; updates hs (and cs for LSTM).
void cell_step(const Spec& s, int d, const float* x, const float* hr, float* hs, float* cs, std::vector<float>& scratch) {
  const int64_t hidden = s.hidden;
  const size_t per_dir = s.acts.size() / size_t(s.dirs);
  const Activation& f = s.acts[size_t(d) * per_dir];
  const Activation& g = s.acts[size_t(d) * per_dir + (per_dir > 1 ? 1 : 0)];
  const Activation& h = s.acts[size_t(d) * per_dir + (per_dir > 2 ? 2 : 0)];
  const float* wb = s.B ? s.B + d * 2 * s.G : nullptr;
  const float* rb = wb ? wb + s.G : nullptr;
  auto clipped = [&](float v) { return s.clip > 0 ? std::clamp(v, -s.clip, s.clip) : v; };
  auto pre = [&](int k, int64_t j) { return x[k * hidden + j] + (wb ? wb[k * hidden + j] : 0.0f); };
  auto rec = [&](int k, int64_t j) { return hr[k * hidden + j] + (rb ? rb[k * hidden + j] : 0.0f); };
  float* next = scratch.data();            // new H
  float* z = next + hidden;                // GRU update gate, or LSTM new C
  float* r = z + hidden;                   // GRU reset gate
  for (int64_t j = 0; j < hidden; ++j) {
    if (s.cell == Cell::kRnn) {
      next[j] = f(clipped(pre(0, j) + rec(0, j)));
    } else if (s.cell == Cell::kGru) {
      z[j] = f(clipped(pre(0, j) + rec(0, j)));
      r[j] = f(clipped(pre(1, j) + rec(1, j)));
    } else {
      const float* p = s.P ? s.P + d * 3 * hidden : nullptr;
      const float c_prev = cs[j];
      const float i = f(clipped(pre(0, j) + rec(0, j) + (p ? p[j] * c_prev : 0.0f)));
      const float fg = s.input_forget ? 1 - i : f(clipped(pre(2, j) + rec(2, j) + (p ? p[2 * hidden + j] * c_prev : 0.0f)));
      const float c_new = fg * c_prev + i * g(clipped(pre(3, j) + rec(3, j)));
      const float o = f(clipped(pre(1, j) + rec(1, j) + (p ? p[hidden + j] * c_new : 0.0f)));
      z[j] = c_new;
      next[j] = o * h(c_new);
    }
  }
  if (s.cell == Cell::kGru)
    for (int64_t j = 0; j < hidden; ++j) {
      float hh;
      if (s.linear_before_reset) {
        hh = g(clipped(pre(2, j) + r[j] * rec(2, j)));
      } else {  // (r * H) Rh^T: its own product, since r multiplies H before Rh
        float acc = 0;
        const float* rrow = s.R + d * s.G * hidden + (2 * hidden + j) * hidden;
        for (int64_t k = 0; k < hidden; ++k) acc += r[k] * hs[k] * rrow[k];
        hh = g(clipped(pre(2, j) + acc + (rb ? rb[2 * hidden + j] : 0.0f)));
      }
      next[j] = (1 - z[j]) * hh + z[j] * hs[j];
    }
  std::copy_n(next, hidden, hs);
  if (s.cell == Cell::kLstm) std::copy_n(z, hidden, cs);
}

// Runs direction d over the sequence; Y is [seq, dirs, batch, hidden].
void run_direction(const Spec& s, int d, const std::vector<float>& xs, float* h_state, float* c_state, std::vector<float>& Y) {
  const bool reverse = s.reverse || d == 1;
  std::vector<float> xw(static_cast<size_t>(s.seq * s.batch * s.G)), hr(static_cast<size_t>(s.batch * s.G));
  std::vector<float> scratch(static_cast<size_t>(3 * s.hidden));
  sgemm(false, true, s.seq * s.batch, s.G, s.in, 1.0f, xs.data(), s.in, s.W + d * s.G * s.in, s.in, 0.0f, xw.data(), s.G);
  for (int64_t step = 0; step < s.seq; ++step) {
    sgemm(false, true, s.batch, s.G, s.hidden, 1.0f, h_state, s.hidden, s.R + d * s.G * s.hidden, s.hidden, 0.0f, hr.data(), s.G);
    for (int64_t b = 0; b < s.batch; ++b) {
      const int64_t len = s.lens[size_t(b)];
      if (step >= len) continue;  // past this row's length: Y stays 0, the state stays
      const int64_t t = reverse ? len - 1 - step : step;
      float* hs = h_state + b * s.hidden;
      cell_step(s, d, &xw[size_t((t * s.batch + b) * s.G)], &hr[size_t(b * s.G)], hs, c_state + b * s.hidden, scratch);
      std::copy_n(hs, s.hidden, &Y[size_t(((t * s.dirs + d) * s.batch + b) * s.hidden)]);
    }
  }
}

Status run_recurrent(RunContext& ctx, Cell cell) {
  EMBER_ASSIGN_OR_RETURN(const Spec s, read_spec(ctx, cell));
  EMBER_ASSIGN_OR_RETURN(std::vector<float> H, initial_state(ctx, s, 5));
  EMBER_ASSIGN_OR_RETURN(std::vector<float> C, initial_state(ctx, s, 6));
  const Tensor& X = ctx.input(0);
  std::vector<float> xs(static_cast<size_t>(s.seq * s.batch * s.in));  // X as [seq, batch, in]
  for (int64_t t = 0; t < s.seq; ++t)
    for (int64_t b = 0; b < s.batch; ++b)
      std::copy_n(X.data<float>() + (s.layout1 ? b * s.seq + t : t * s.batch + b) * s.in, s.in, &xs[size_t((t * s.batch + b) * s.in)]);
  std::vector<float> Y(static_cast<size_t>(s.seq * s.dirs * s.batch * s.hidden), 0.0f);
  for (int d = 0; d < s.dirs; ++d)
    run_direction(s, d, xs, &H[size_t(d * s.batch * s.hidden)], &C[size_t(d * s.batch * s.hidden)], Y);
  const int64_t seq = s.seq, dirs = s.dirs, batch = s.batch, hidden = s.hidden;
  if (!ctx.outputs.empty() && !ctx.node.outputs[0].empty()) {
    Tensor& y = ctx.allocate_output(0, DType::kF32, s.layout1 ? Shape{batch, seq, dirs, hidden} : Shape{seq, dirs, batch, hidden});
    for (int64_t t = 0; t < seq; ++t)
      for (int64_t d = 0; d < dirs; ++d)
        for (int64_t b = 0; b < batch; ++b)
          std::copy_n(&Y[size_t(((t * dirs + d) * batch + b) * hidden)], hidden,
                      y.mutable_data<float>() + (s.layout1 ? ((b * seq + t) * dirs + d) : ((t * dirs + d) * batch + b)) * hidden);
  }
  auto write_state = [&](size_t out, const std::vector<float>& state) {
    if (ctx.outputs.size() <= out || ctx.node.outputs[out].empty()) return;
    Tensor& y = ctx.allocate_output(out, DType::kF32, s.layout1 ? Shape{batch, dirs, hidden} : Shape{dirs, batch, hidden});
    for (int64_t d = 0; d < dirs; ++d)
      for (int64_t b = 0; b < batch; ++b)
        std::copy_n(&state[size_t((d * batch + b) * hidden)], hidden, y.mutable_data<float>() + (s.layout1 ? b * dirs + d : d * batch + b) * hidden);
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
