// Backward rule of LSTM (layout 0, default activations sigmoid/tanh/tanh, no peepholes, clip,
// input_forget or sequence_lens; other configurations are cuts). Back-propagation through
// time: the rule re-runs the forward, keeping every step's gates and cell state, then walks
// the steps of each direction backwards. With gates g = X_t W^T + H_{t-1} R^T + Wb + Rb
// (order i o f c), i, o, f = sigmoid, c~ = tanh, C_t = f C_{t-1} + i c~, H_t = o tanh(C_t):
//   dH = dY_t + dH_carry               dC = dC_carry + dH o (1 - tanh^2 C_t)
//   dg_o = dH tanh(C_t) o (1 - o)      dg_i = dC c~ i (1 - i)
//   dg_f = dC C_{t-1} f (1 - f)        dg_c = dC i (1 - c~^2)
//   dC_carry = dC f                     dH_carry = dG R
//   dX_t += dG W     dW += dG^T X_t     dR += dG^T H_{t-1}     dWb = dRb += sum_rows dG
// The carries start from dY_h and dY_c and end as the gradients of initial_h and initial_c.
#include <cmath>
#include <vector>

#include "runtime/grad/grad_rule.h"

namespace ember::runtime::grad {
namespace {

enum : size_t { kX = 0, kW = 1, kR = 2, kB = 3, kLens = 4, kH0 = 5, kC0 = 6, kP = 7 };

bool present(const ir::Node& node, size_t i) { return i < node.inputs.size() && !node.inputs[i].empty(); }

bool lstm_supported(const ir::Node& node) {
  if (node.attr_int("layout", 0) != 0 || node.attr_int("input_forget", 0) != 0 || node.attr_float("clip", 0.0f) != 0.0f)
    return false;
  if (present(node, kLens) || present(node, kP)) return false;
  if (const ir::Attribute* a = node.find_attr("activations")) {
    const size_t n = a->strings.size();
    if (n != 3 && n != 6) return false;
    for (size_t k = 0; k < n; ++k)
      if (a->strings[k] != (k % 3 == 0 ? "Sigmoid" : "Tanh")) return false;
  }
  return true;
}

GradNeeds lstm_needs(const ir::Node& node, IndexMask) {
  IndexMask inputs = 0;
  for (size_t i : {kX, kW, kR, kB, kH0, kC0})
    if (present(node, i)) inputs |= bit(i);
  return {inputs, 0};
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

struct LstmDims {
  int64_t seq, batch, in, hidden, dirs;
};

// One direction's forward, keeping per step (in time order t) the activated gates [N, 4H]
// and the cell state after the step; H before each step is read back from `hs`.
struct DirectionTrace {
  std::vector<float> gates, cells, hs;  // hs holds H before step k of the walk (k = 0..seq)
};

DirectionTrace trace_direction(const LstmDims& n, int64_t d, bool reverse, const float* X, const float* W, const float* R,
                               const float* B, const float* h0, const float* c0) {
  const int64_t G = 4 * n.hidden, H = n.hidden, rows = n.batch;
  DirectionTrace tr;
  tr.gates.assign(size_t(n.seq * rows * G), 0.0f);
  tr.cells.assign(size_t(n.seq * rows * H), 0.0f);
  tr.hs.assign(size_t((n.seq + 1) * rows * H), 0.0f);
  std::vector<float> c(size_t(rows * H), 0.0f);
  if (h0) std::copy_n(h0 + d * rows * H, rows * H, tr.hs.begin());
  if (c0) std::copy_n(c0 + d * rows * H, rows * H, c.begin());
  const float* w = W + d * G * n.in;
  const float* r = R + d * G * H;
  for (int64_t k = 0; k < n.seq; ++k) {
    const int64_t t = reverse ? n.seq - 1 - k : k;
    const float* h_prev = &tr.hs[size_t(k * rows * H)];
    float* h_next = &tr.hs[size_t((k + 1) * rows * H)];
    for (int64_t b = 0; b < rows; ++b) {
      float* g = &tr.gates[size_t((t * rows + b) * G)];
      const float* x = X + (t * rows + b) * n.in;
      for (int64_t j = 0; j < G; ++j) {
        float acc = B ? B[d * 2 * G + j] + B[d * 2 * G + G + j] : 0.0f;
        for (int64_t q = 0; q < n.in; ++q) acc += x[q] * w[j * n.in + q];
        for (int64_t q = 0; q < H; ++q) acc += h_prev[b * H + q] * r[j * H + q];
        g[j] = j < 3 * H ? sigmoid(acc) : std::tanh(acc);
      }
      for (int64_t q = 0; q < H; ++q) {
        const float i = g[q], o = g[H + q], f = g[2 * H + q], cc = g[3 * H + q];
        float& cell = c[size_t(b * H + q)];
        cell = f * cell + i * cc;
        tr.cells[size_t((t * rows + b) * H + q)] = cell;
        h_next[b * H + q] = o * std::tanh(cell);
      }
    }
  }
  return tr;
}

struct LstmTensors {
  const float *X, *W, *R, *B, *h0, *c0;  // B, h0, c0 may be null
  const float *dY, *dYh, *dYc;           // null where no gradient flows
  float *dX, *dW, *dR, *dB, *dH0, *dC0;
};

// Back-propagation through time over direction d (the formulas at the top of the file).
void backward_direction(const LstmDims& n, int64_t d, bool reverse, const LstmTensors& z) {
  const int64_t G = 4 * n.hidden, H = n.hidden, rows = n.batch;
  const DirectionTrace tr = trace_direction(n, d, reverse, z.X, z.W, z.R, z.B, z.h0, z.c0);
  const float* w = z.W + d * G * n.in;
  const float* r = z.R + d * G * H;
  float* dw = z.dW + d * G * n.in;
  float* dr = z.dR + d * G * H;
  float* db = z.dB + d * 2 * G;
  std::vector<float> dh(static_cast<size_t>(rows * H)), dc(dh.size()), dh_next(dh.size()), dg(static_cast<size_t>(G));
  for (int64_t i = 0; i < rows * H; ++i) {
    dh[size_t(i)] = z.dYh ? z.dYh[d * rows * H + i] : 0.0f;
    dc[size_t(i)] = z.dYc ? z.dYc[d * rows * H + i] : 0.0f;
  }
  for (int64_t k = n.seq; k-- > 0;) {
    const int64_t t = reverse ? n.seq - 1 - k : k;
    const int64_t t_prev = reverse ? t + 1 : t - 1;  // the time of walk step k - 1
    const float* h_prev = &tr.hs[size_t(k * rows * H)];
    std::fill(dh_next.begin(), dh_next.end(), 0.0f);
    for (int64_t b = 0; b < rows; ++b) {
      const float* g = &tr.gates[size_t((t * rows + b) * G)];
      for (int64_t q = 0; q < H; ++q) {
        const size_t at = size_t(b * H + q);
        const float i = g[q], o = g[H + q], f = g[2 * H + q], cc = g[3 * H + q];
        const float th = std::tanh(tr.cells[size_t((t * rows + b) * H + q)]);
        const float c_prev = k > 0 ? tr.cells[size_t((t_prev * rows + b) * H + q)] : (z.c0 ? z.c0[(d * rows + b) * H + q] : 0.0f);
        const float dh_total = dh[at] + (z.dY ? z.dY[((t * n.dirs + d) * rows + b) * H + q] : 0.0f);
        const float dcell = dc[at] + dh_total * o * (1 - th * th);
        dg[size_t(q)] = dcell * cc * i * (1 - i);
        dg[size_t(H + q)] = dh_total * th * o * (1 - o);
        dg[size_t(2 * H + q)] = dcell * c_prev * f * (1 - f);
        dg[size_t(3 * H + q)] = dcell * i * (1 - cc * cc);
        dc[at] = dcell * f;
      }
      const float* x = z.X + (t * rows + b) * n.in;
      float* dx = z.dX + (t * rows + b) * n.in;
      for (int64_t j = 0; j < G; ++j) {
        const float gj = dg[size_t(j)];
        db[j] += gj;
        db[G + j] += gj;
        for (int64_t q = 0; q < n.in; ++q) {
          dx[q] += gj * w[j * n.in + q];
          dw[j * n.in + q] += gj * x[q];
        }
        for (int64_t q = 0; q < H; ++q) {
          dh_next[size_t(b * H + q)] += gj * r[j * H + q];
          dr[j * H + q] += gj * h_prev[b * H + q];
        }
      }
    }
    dh.swap(dh_next);
  }
  std::copy(dh.begin(), dh.end(), z.dH0 + d * rows * H);
  std::copy(dc.begin(), dc.end(), z.dC0 + d * rows * H);
}

Status lstm_backward(BackwardContext& ctx) {
  const Tensor &X = ctx.input(kX), &W = ctx.input(kW), &R = ctx.input(kR);
  if (X.dtype() != DType::kF32 || W.dtype() != DType::kF32 || R.dtype() != DType::kF32 || X.rank() != 3 || W.rank() != 3 ||
      R.rank() != 3)
    return unsupported(ctx.where() + ": gradients need float32 X, W and R of rank 3");
  const LstmDims n{X.dim(0), X.dim(1), X.dim(2), R.dim(2), W.dim(0)};
  auto optional = [&](size_t i) { return ctx.has_input(i) ? ctx.input(i).data<float>() : nullptr; };
  auto seed = [&](size_t j) { return ctx.has_output_grad(j) ? ctx.output_grad(j).data<float>() : nullptr; };
  Tensor dX = ctx.zeros(X.shape()), dW = ctx.zeros(W.shape()), dR = ctx.zeros(R.shape());
  Tensor dB = ctx.zeros({n.dirs, 8 * n.hidden}), dH0 = ctx.zeros({n.dirs, n.batch, n.hidden}), dC0 = ctx.zeros(dH0.shape());
  const LstmTensors z{X.data<float>(), W.data<float>(), R.data<float>(), optional(kB), optional(kH0), optional(kC0),
                      seed(0), seed(1), seed(2), dX.mutable_data<float>(), dW.mutable_data<float>(), dR.mutable_data<float>(),
                      dB.mutable_data<float>(), dH0.mutable_data<float>(), dC0.mutable_data<float>()};
  const std::string direction = ctx.node.attr_string("direction", "forward");
  for (int64_t d = 0; d < n.dirs; ++d) backward_direction(n, d, direction == "reverse" || d == 1, z);
  if (ctx.wants(kX)) ctx.input_grads[kX] = std::move(dX);
  if (ctx.wants(kW)) ctx.input_grads[kW] = std::move(dW);
  if (ctx.wants(kR)) ctx.input_grads[kR] = std::move(dR);
  if (ctx.wants(kB)) ctx.input_grads[kB] = dB.reshaped(ctx.input_shapes[kB]);
  if (ctx.wants(kH0)) ctx.input_grads[kH0] = dH0.reshaped(ctx.input_shapes[kH0]);
  if (ctx.wants(kC0)) ctx.input_grads[kC0] = dC0.reshaped(ctx.input_shapes[kC0]);
  return Status::Ok();
}

}  // namespace

void register_recurrent_grads(GradRegistry& r) {
  r.add("LSTM", bit(kX) | bit(kW) | bit(kR) | bit(kB) | bit(kH0) | bit(kC0), lstm_needs, lstm_backward, "", lstm_supported);
}

}  // namespace ember::runtime::grad
