// Backward rules of DFT and STFT: both are linear in the signal, so the gradient is the
// adjoint transform. For one transform of N points with a = +-2 pi k n / N (sign of the
// forward: - forward, + inverse) and scale s (1, or 1 / N for the inverse), the forward is
//   Re y_k = s sum_n (xr_n cos a - xi_n sin a),   Im y_k = s sum_n (xr_n sin a + xi_n cos a)
// over the bins k it keeps (N/2 + 1 when onesided), so with (dRe_k, dIm_k):
//   dxr_n = s sum_k (dRe_k cos a + dIm_k sin a),  dxi_n = s sum_k (dIm_k cos a - dRe_k sin a)
// Samples past dft_length get no gradient; zero padding up to it reads no sample.
//   STFT frames x[f step + n] w[n]: dx[f step + n] += w[n] dframe[n], dw[n] += x[f step + n] dframe[n]
#include <algorithm>
#include <cmath>
#include <numbers>

#include "runtime/grad/grad_util.h"

namespace ember::runtime::grad {
namespace {

// The adjoint of one DFT: g(k) gives (dRe_k, dIm_k); add(n, dxr, dxi) receives each sample's gradient.
template <class Grad, class Add>
void dft_adjoint(const Grad& g, int64_t bins, int64_t length, int64_t samples, bool inverse, const Add& add) {
  const double sign = inverse ? 1 : -1, s = inverse ? 1.0 / double(length) : 1.0;
  for (int64_t n = 0; n < std::min(samples, length); ++n) {
    double dr = 0, di = 0;
    for (int64_t k = 0; k < bins; ++k) {
      const double a = sign * 2 * std::numbers::pi * double((k * n) % length) / double(length);
      const auto [gr, gi] = g(k);
      dr += gr * std::cos(a) + gi * std::sin(a);
      di += gi * std::cos(a) - gr * std::sin(a);
    }
    add(n, s * dr, s * di);
  }
}

Result<int64_t> scalar_int(const BackwardContext& ctx, size_t index, int64_t fallback) {
  if (!ctx.has_input(index) || ctx.input(index).numel() == 0) return fallback;
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> v, read_int_input(ctx, index));
  if (v.size() != 1) return invalid_input(ctx.where() + ": input " + std::to_string(index) + " must hold one value");
  return v[0];
}

GradNeeds dft_needs(const ir::Node&, IndexMask) { return {bit(1) | bit(2), 0}; }

Status dft_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Shape& xs = ctx.input_shapes[0];
  const int rank = static_cast<int>(xs.size());
  if (rank < 2 || (xs.back() != 1 && xs.back() != 2)) return invalid_input(ctx.where() + ": the last dimension must be 1 or 2");
  int64_t axis = ctx.node.attr_int("axis", 1);
  if (ctx.opset >= 20) {
    EMBER_ASSIGN_OR_RETURN(axis, scalar_int(ctx, 2, -2));
  }
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank - 1) return invalid_input(ctx.where() + ": axis out of range");
  const int64_t n_in = xs[size_t(axis)];
  EMBER_ASSIGN_OR_RETURN(const int64_t length, scalar_int(ctx, 1, n_in));
  if (length <= 0) return invalid_input(ctx.where() + ": dft_length must be positive");
  const bool inverse = ctx.node.attr_int("inverse", 0) != 0;
  const int64_t bins = ctx.output_shapes[0][size_t(axis)], complex = xs.back();
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= xs[size_t(d)];
  for (int64_t d = axis + 1; d < rank - 1; ++d) inner *= xs[size_t(d)];
  Tensor dx = ctx.zeros(xs);
  float* out = dx.mutable_data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto grad = [&](int64_t k) {
        const int64_t at = ((o * bins + k) * inner + i) * 2;
        return std::pair<double, double>{dy[at], dy[at + 1]};
      };
      dft_adjoint(grad, bins, length, n_in, inverse, [&](int64_t n, double dr, double di) {
        const int64_t at = ((o * n_in + n) * inner + i) * complex;
        out[at] = static_cast<float>(dr);
        if (complex == 2) out[at + 1] = static_cast<float>(di);
      });
    }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

GradNeeds stft_needs(const ir::Node&, IndexMask) { return {bit(0) | bit(1) | bit(2) | bit(3), 0}; }

Status stft_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const Tensor& x = ctx.input(0);
  EMBER_TRY(require_f32(ctx, x, "the signal"));
  const bool has_window = ctx.has_input(2) && ctx.input(2).numel() > 0;
  if (has_window) {
    EMBER_TRY(require_f32(ctx, ctx.input(2), "the window"));
  }
  EMBER_ASSIGN_OR_RETURN(const int64_t step, scalar_int(ctx, 1, 0));
  EMBER_ASSIGN_OR_RETURN(const int64_t frame, scalar_int(ctx, 3, has_window ? ctx.input(2).numel() : 0));
  if (x.rank() != 3 || step <= 0 || frame <= 0 || frame > x.dim(1)) return invalid_input(ctx.where() + ": bad STFT shapes");
  const int64_t frames = ctx.output_shapes[0][1], bins = ctx.output_shapes[0][2], complex = x.dim(2);
  const float* w = has_window ? ctx.input(2).data<float>() : nullptr;
  const float* px = x.data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  Tensor dx = ctx.zeros(x.shape());
  std::vector<double> dw(size_t(frame), 0.0);
  float* out = dx.mutable_data<float>();
  for (int64_t b = 0; b < x.dim(0); ++b)
    for (int64_t f = 0; f < frames; ++f) {
      auto grad = [&](int64_t k) {
        const int64_t at = ((b * frames + f) * bins + k) * 2;
        return std::pair<double, double>{dy[at], dy[at + 1]};
      };
      dft_adjoint(grad, bins, frame, frame, false, [&](int64_t n, double dr, double di) {
        const int64_t at = (b * x.dim(1) + f * step + n) * complex;
        const double wn = w ? w[n] : 1.0;
        out[at] += static_cast<float>(wn * dr);
        dw[size_t(n)] += px[at] * dr;
        if (complex == 2) {
          out[at + 1] += static_cast<float>(wn * di);
          dw[size_t(n)] += px[at + 1] * di;
        }
      });
    }
  if (ctx.wants(0)) ctx.input_grads[0] = std::move(dx);
  if (ctx.wants(2) && has_window)
    ctx.input_grads[2] = Tensor::from_vector<float>(ctx.input_shapes[2], std::vector<float>(dw.begin(), dw.end()));
  return Status::Ok();
}

}  // namespace

void register_signal_grads(GradRegistry& r) {
  r.add("DFT", bit(0), dft_needs, dft_backward);
  r.add("STFT", bit(0) | bit(2), stft_needs, stft_backward);
}

}  // namespace ember::runtime::grad
