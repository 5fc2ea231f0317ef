// Backward rules of GRU and RNN (layout 0, no clip, any sequence_lens; GRU with its default
// activations sigmoid/tanh and either linear_before_reset; RNN with Tanh, Relu or Sigmoid;
// other configurations are cuts). Back-propagation through time, as the LSTM rule
// (grad_recurrent.cc): the rule re-runs the forward keeping each step's gates, then walks the
// steps of each direction backwards, carrying dH. Gate rows of W, R, B: RNN i; GRU z r h.
//   RNN: H' = f(a), a = x W^T + H R^T + Wb + Rb:   da = dH' f'(a) (from H'),  dH = da R
//   GRU: z = s(x Wz^T + H Rz^T + Wbz + Rbz),  r = s(... r ...),
//        h~ = tanh(x Wh^T + Wbh + (r H) Rh^T + Rbh)        (linear_before_reset = 0)
//        h~ = tanh(x Wh^T + Wbh + r (H Rh^T + Rbh))        (linear_before_reset = 1)
//        H' = (1 - z) h~ + z H
//     with dH' (dY_t plus the carry): dz = dH' (H - h~), dh~ = dH' (1 - z), dH += dH' z,
//     da_h = dh~ (1 - h~^2), then through the reset product to dr, dRh, dRbh and dH, and
//     dg_z = dz z (1 - z), dg_r = dr r (1 - r) as for any gate:
//   every gate g with pre-activation gradient dg: dX += dg W_g, dW_g += dg^T x, dWb_g += dg,
//   and (for the gates whose recurrent product is plain) dR_g += dg^T H, dRb_g += dg, dH += dg R_g.
// The carry after the first step is the gradient of initial_h.
#include <cmath>
#include <vector>

#include "runtime/grad/grad_util.h"

namespace ember::runtime::grad {
namespace {

enum : size_t { kX = 0, kW = 1, kR = 2, kB = 3, kLens = 4, kH0 = 5 };
enum class Cell { kRnn, kGru };
enum class Act { kTanh, kRelu, kSigmoid };

bool present(const ir::Node& node, size_t i) { return i < node.inputs.size() && !node.inputs[i].empty(); }

// The activations of a supported node, one per direction (RNN) or the GRU defaults.
bool read_acts(const ir::Node& node, Cell cell, std::vector<Act>* acts) {
  const ir::Attribute* a = node.find_attr("activations");
  const int dirs = node.attr_string("direction", "forward") == "bidirectional" ? 2 : 1;
  if (cell == Cell::kGru) {
    if (!a) return true;
    if (a->strings.size() != size_t(2 * dirs)) return false;
    for (size_t k = 0; k < a->strings.size(); ++k)
      if (a->strings[k] != (k % 2 == 0 ? "Sigmoid" : "Tanh")) return false;
    return true;
  }
  if (!a) {
    acts->assign(size_t(dirs), Act::kTanh);
    return true;
  }
  if (a->strings.size() != size_t(dirs)) return false;
  for (const std::string& name : a->strings) {
    if (name == "Tanh") acts->push_back(Act::kTanh);
    else if (name == "Relu") acts->push_back(Act::kRelu);
    else if (name == "Sigmoid") acts->push_back(Act::kSigmoid);
    else return false;
  }
  return true;
}

template <Cell kCell>
bool supported(const ir::Node& node) {
  if (node.attr_int("layout", 0) != 0 || node.attr_float("clip", 0.0f) != 0.0f) return false;
  std::vector<Act> acts;
  return read_acts(node, kCell, &acts);
}

GradNeeds recurrent_needs(const ir::Node& node, IndexMask) {
  IndexMask inputs = 0;
  for (size_t i : {kX, kW, kR, kB, kLens, kH0})
    if (present(node, i)) inputs |= bit(i);
  return {inputs, 0};
}

float activate(Act act, float a) {
  if (act == Act::kTanh) return std::tanh(a);
  if (act == Act::kRelu) return a > 0 ? a : 0.0f;
  return 1.0f / (1.0f + std::exp(-a));
}
// f'(a) written with y = f(a).
float slope(Act act, float y) {
  if (act == Act::kTanh) return 1 - y * y;
  if (act == Act::kRelu) return y > 0 ? 1.0f : 0.0f;
  return y * (1 - y);
}
float sigmoid(float a) { return 1.0f / (1.0f + std::exp(-a)); }

struct Problem {
  Cell cell;
  bool linear_before_reset;
  std::vector<Act> acts;  // RNN: per direction
  int64_t seq, batch, in, hidden, dirs, G;  // G = gates x hidden
  std::vector<int64_t> lens;                // per batch row: the steps it runs (sequence_lens, else seq)
  const float *X, *W, *R, *B, *h0, *dY, *dYh;
  float *dX, *dW, *dR, *dB, *dH0;
};

// acc = bias_row + x . w_row + h . r_row (r_row may be null).
float gate_input(const float* x, const float* w, int64_t in, const float* h, const float* r, int64_t hidden, float bias) {
  float acc = bias;
  for (int64_t q = 0; q < in; ++q) acc += x[q] * w[q];
  if (r)
    for (int64_t q = 0; q < hidden; ++q) acc += h[q] * r[q];
  return acc;
}

// One direction's forward, keeping H before each walk step k (hs, k = 0..seq) and, per
// (t, b), the GRU's z, r, h~ and q = H Rh^T + Rbh (gates).
struct Trace {
  std::vector<float> hs, gates;
};

Trace trace_direction(const Problem& p, int64_t d, bool reverse) {
  const int64_t H = p.hidden, N = p.batch, G = p.G;
  const float* w = p.W + d * G * p.in;
  const float* r = p.R + d * G * H;
  const float* wb = p.B ? p.B + d * 2 * G : nullptr;
  const float* rb = wb ? wb + G : nullptr;
  auto bias = [](const float* b, int64_t j) { return b ? b[j] : 0.0f; };
  Trace tr;
  std::vector<float>& hs = tr.hs;
  std::vector<float>& gates = tr.gates;
  hs.assign(size_t((p.seq + 1) * N * H), 0.0f);
  gates.assign(size_t(p.seq * N * 4 * H), 0.0f);
  if (p.h0) std::copy_n(p.h0 + d * N * H, N * H, hs.begin());
  for (int64_t k = 0; k < p.seq; ++k) {
    for (int64_t b = 0; b < N; ++b) {
      const int64_t len = p.lens[size_t(b)];
      const float* h = &hs[size_t((k * N + b) * H)];
      float* hn = &hs[size_t(((k + 1) * N + b) * H)];
      if (k >= len) {  // past this row's length: its state stays
        std::copy_n(h, H, hn);
        continue;
      }
      const int64_t t = reverse ? len - 1 - k : k;
      const float* x = p.X + (t * N + b) * p.in;
      float* g = &gates[size_t((t * N + b) * 4 * H)];  // z, r, h~, q
      for (int64_t j = 0; j < H; ++j) {
        if (p.cell == Cell::kRnn) {
          hn[j] = activate(p.acts[size_t(d)], gate_input(x, w + j * p.in, p.in, h, r + j * H, H, bias(wb, j) + bias(rb, j)));
          continue;
        }
        g[j] = sigmoid(gate_input(x, w + j * p.in, p.in, h, r + j * H, H, bias(wb, j) + bias(rb, j)));
        g[H + j] = sigmoid(gate_input(x, w + (H + j) * p.in, p.in, h, r + (H + j) * H, H, bias(wb, H + j) + bias(rb, H + j)));
      }
      if (p.cell == Cell::kRnn) continue;
      for (int64_t j = 0; j < H; ++j) {
        const float* rh = r + (2 * H + j) * H;
        float a = gate_input(x, w + (2 * H + j) * p.in, p.in, nullptr, nullptr, H, bias(wb, 2 * H + j));
        g[3 * H + j] = gate_input(x, w, 0, h, rh, H, bias(rb, 2 * H + j));  // q_j
        if (p.linear_before_reset) {
          a += g[H + j] * g[3 * H + j];
        } else {
          for (int64_t q = 0; q < H; ++q) a += g[H + q] * h[q] * rh[q];
          a += bias(rb, 2 * H + j);
        }
        g[2 * H + j] = std::tanh(a);
        hn[j] = (1 - g[j]) * g[2 * H + j] + g[j] * h[j];
      }
    }
  }
  return tr;
}

// The GRU candidate's reset product, h~ = tanh(.. + (r H) Rh^T + Rbh) or tanh(.. + r (H Rh^T + Rbh)):
// from dg_h (in dg) gives dg_r (the reset gate's pre-activation gradient), dRh, dRbh and dH.
// g holds z, r, h~, q of the row; h is H before the step; r/dr/drb the direction's R, dR, dRb.
void reset_product_backward(const Problem& p, const float* g, const float* h, const float* r, float* dr, float* drb,
                            std::vector<float>& dg, float* dhp) {
  const int64_t H = p.hidden;
  std::vector<float> du(static_cast<size_t>(H), 0.0f);  // d (r H), before linear_before_reset = 0's product
  for (int64_t j = 0; j < H; ++j) {
    const float da = dg[size_t(2 * H + j)], rj = g[H + j];
    const float* rh = r + (2 * H + j) * H;
    float* drh = dr + (2 * H + j) * H;
    const float dq = p.linear_before_reset ? da * rj : da;
    if (p.linear_before_reset) dg[size_t(H + j)] += da * g[3 * H + j];
    drb[2 * H + j] += dq;
    for (int64_t q = 0; q < H; ++q) {
      if (p.linear_before_reset) {
        drh[q] += dq * h[q];
        dhp[q] += dq * rh[q];
      } else {
        drh[q] += da * g[H + q] * h[q];
        du[size_t(q)] += da * rh[q];
      }
    }
  }
  for (int64_t q = 0; q < H; ++q) {
    if (!p.linear_before_reset) {
      dg[size_t(H + q)] += du[size_t(q)] * h[q];
      dhp[q] += du[size_t(q)] * g[H + q];
    }
    dg[size_t(H + q)] *= g[H + q] * (1 - g[H + q]);
  }
}

// The walk backwards over direction d (the formulas at the top of the file).
void backward_direction(const Problem& p, int64_t d, bool reverse) {
  const int64_t H = p.hidden, N = p.batch, G = p.G;
  const float* w = p.W + d * G * p.in;
  const float* r = p.R + d * G * H;
  const Trace tr = trace_direction(p, d, reverse);
  const std::vector<float>& hs = tr.hs;
  const std::vector<float>& gates = tr.gates;
  float* dw = p.dW + d * G * p.in;
  float* dr = p.dR + d * G * H;
  float* dwb = p.dB + d * 2 * G;
  float* drb = dwb + G;
  std::vector<float> dh(size_t(N * H), 0.0f), dh_prev(dh.size()), dg(static_cast<size_t>(G));
  if (p.dYh) std::copy_n(p.dYh + d * N * H, N * H, dh.begin());
  for (int64_t k = p.seq; k-- > 0;) {
    std::fill(dh_prev.begin(), dh_prev.end(), 0.0f);
    for (int64_t b = 0; b < N; ++b) {
      const int64_t len = p.lens[size_t(b)];
      if (k >= len) {  // the state passed through unchanged: so does its gradient
        std::copy_n(&dh[size_t(b * H)], H, &dh_prev[size_t(b * H)]);
        continue;
      }
      const int64_t t = reverse ? len - 1 - k : k;
      const float* x = p.X + (t * N + b) * p.in;
      const float* h = &hs[size_t((k * N + b) * H)];
      const float* hn = &hs[size_t(((k + 1) * N + b) * H)];
      const float* g = &gates[size_t((t * N + b) * 4 * H)];
      float* dhp = &dh_prev[size_t(b * H)];
      std::fill(dg.begin(), dg.end(), 0.0f);
      for (int64_t j = 0; j < H; ++j) {
        const float total = dh[size_t(b * H + j)] + (p.dY ? p.dY[((t * p.dirs + d) * N + b) * H + j] : 0.0f);
        if (p.cell == Cell::kRnn) {
          dg[size_t(j)] = total * slope(p.acts[size_t(d)], hn[j]);
          continue;
        }
        const float z = g[j], hh = g[2 * H + j];
        dg[size_t(j)] = total * (h[j] - hh) * z * (1 - z);
        dg[size_t(2 * H + j)] = total * (1 - z) * (1 - hh * hh);
        dhp[j] += total * z;
      }
      if (p.cell == Cell::kGru) reset_product_backward(p, g, h, r, dr, drb, dg, dhp);
      float* dx = p.dX + (t * N + b) * p.in;
      const int64_t plain_rows = p.cell == Cell::kRnn ? H : 2 * H;  // rows whose recurrent product is H R^T
      for (int64_t j = 0; j < G; ++j) {
        const float gj = dg[size_t(j)];
        dwb[j] += gj;
        for (int64_t q = 0; q < p.in; ++q) {
          dx[q] += gj * w[j * p.in + q];
          dw[j * p.in + q] += gj * x[q];
        }
        if (j >= plain_rows) continue;
        drb[j] += gj;
        for (int64_t q = 0; q < H; ++q) {
          dr[j * H + q] += gj * h[q];
          dhp[q] += gj * r[j * H + q];
        }
      }
    }
    dh.swap(dh_prev);
  }
  std::copy(dh.begin(), dh.end(), p.dH0 + d * N * H);
}

template <Cell kCell>
Status recurrent_backward(BackwardContext& ctx) {
  const Tensor &X = ctx.input(kX), &W = ctx.input(kW), &R = ctx.input(kR);
  if (X.dtype() != DType::kF32 || W.dtype() != DType::kF32 || R.dtype() != DType::kF32 || X.rank() != 3 || W.rank() != 3 ||
      R.rank() != 3)
    return unsupported(ctx.where() + ": gradients need float32 X, W and R of rank 3");
  Problem p{kCell, ctx.node.attr_int("linear_before_reset", 0) != 0, {}, X.dim(0), X.dim(1), X.dim(2), R.dim(2), W.dim(0), W.dim(1),
            std::vector<int64_t>(size_t(X.dim(1)), X.dim(0)), X.data<float>(), W.data<float>(), R.data<float>(), nullptr, nullptr, nullptr, nullptr,
            nullptr, nullptr, nullptr, nullptr, nullptr};
  if (!read_acts(ctx.node, kCell, &p.acts)) return unsupported(ctx.where() + ": activations outside the rule");
  if (ctx.has_input(kLens)) {
    EMBER_ASSIGN_OR_RETURN(p.lens, read_int_input(ctx, kLens));
    if (int64_t(p.lens.size()) != p.batch) return invalid_input(ctx.where() + ": sequence_lens must have one value per batch row");
    for (int64_t len : p.lens)
      if (len < 0 || len > p.seq) return invalid_input(ctx.where() + ": a sequence length is outside [0, seq]");
  }
  p.B = ctx.has_input(kB) ? ctx.input(kB).data<float>() : nullptr;
  p.h0 = ctx.has_input(kH0) ? ctx.input(kH0).data<float>() : nullptr;
  p.dY = ctx.has_output_grad(0) ? ctx.output_grad(0).data<float>() : nullptr;
  p.dYh = ctx.has_output_grad(1) ? ctx.output_grad(1).data<float>() : nullptr;
  Tensor dX = ctx.zeros(X.shape()), dW = ctx.zeros(W.shape()), dR = ctx.zeros(R.shape());
  Tensor dB = ctx.zeros({p.dirs, 2 * p.G}), dH0 = ctx.zeros({p.dirs, p.batch, p.hidden});
  p.dX = dX.mutable_data<float>(), p.dW = dW.mutable_data<float>(), p.dR = dR.mutable_data<float>();
  p.dB = dB.mutable_data<float>(), p.dH0 = dH0.mutable_data<float>();
  const std::string dir = ctx.node.attr_string("direction", "forward");
  for (int64_t d = 0; d < p.dirs; ++d) backward_direction(p, d, dir == "reverse" || d == 1);
  if (ctx.wants(kX)) ctx.input_grads[kX] = std::move(dX);
  if (ctx.wants(kW)) ctx.input_grads[kW] = std::move(dW);
  if (ctx.wants(kR)) ctx.input_grads[kR] = std::move(dR);
  if (ctx.wants(kB)) ctx.input_grads[kB] = dB.reshaped(ctx.input_shapes[kB]);
  if (ctx.wants(kH0)) ctx.input_grads[kH0] = dH0.reshaped(ctx.input_shapes[kH0]);
  return Status::Ok();
}

}  // namespace

void register_gru_rnn_grads(GradRegistry& r) {
  const IndexMask inputs = bit(kX) | bit(kW) | bit(kR) | bit(kB) | bit(kH0);
  r.add("GRU", inputs, recurrent_needs, recurrent_backward<Cell::kGru>, "", supported<Cell::kGru>);
  r.add("RNN", inputs, recurrent_needs, recurrent_backward<Cell::kRnn>, "", supported<Cell::kRnn>);
}

}  // namespace ember::runtime::grad
