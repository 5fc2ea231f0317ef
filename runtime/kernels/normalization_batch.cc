// BatchNormalization.
//   Inference: y = (x - mean) / sqrt(var + epsilon) * scale + bias per channel (dim 1),
//   folded to y = x * a[c] + b[c]. prepare folds a and b once when the four parameters are
//   constants (the usual case); otherwise run folds them per call.
//   Opset 6-8 with spatial=0: the parameters hold one value per (channel, position).
//   Training (opset >= 14, training_mode=1): normalises with the batch's own mean and
//   population variance, and outputs running_mean = mean * momentum + batch_mean *
//   (1 - momentum) and likewise running_var.
#include <cmath>
#include <string>
#include <vector>

#include "runtime/kernels/broadcast_loop.h"
#include "runtime/kernels/half_fallback.h"
#include "runtime/kernels/normalization_ops.h"
#include "runtime/kernels/op_inputs.h"

namespace ember::runtime {
namespace {

enum Param { kScale = 1, kBias = 2, kMean = 3, kVar = 4 };

Result<std::vector<double>> read_values(const Tensor& t, const std::string& where) {
  if (t.dtype() == DType::kF64) return std::vector<double>(t.data<double>(), t.data<double>() + t.numel());
  if (!traits(t.dtype()).is_float) return invalid_input(where + ": parameters must be floating point");
  EMBER_ASSIGN_OR_RETURN(std::vector<float> values, t.to_floats());
  return std::vector<double>(values.begin(), values.end());
}

struct Folded {
  std::vector<double> a, b;  // y = x * a + b
};

Result<Folded> fold(const Tensor* const params[5], double epsilon, const std::string& where) {
  EMBER_ASSIGN_OR_RETURN(std::vector<double> scale, read_values(*params[kScale], where));
  EMBER_ASSIGN_OR_RETURN(std::vector<double> bias, read_values(*params[kBias], where));
  EMBER_ASSIGN_OR_RETURN(std::vector<double> mean, read_values(*params[kMean], where));
  EMBER_ASSIGN_OR_RETURN(std::vector<double> var, read_values(*params[kVar], where));
  const size_t n = scale.size();
  if (bias.size() != n || mean.size() != n || var.size() != n)
    return invalid_input(where + ": scale, bias, mean and var must have the same number of values");
  Folded f{std::vector<double>(n), std::vector<double>(n)};
  for (size_t i = 0; i < n; ++i) {
    f.a[i] = scale[i] / std::sqrt(var[i] + epsilon);
    f.b[i] = bias[i] - mean[i] * f.a[i];
  }
  return f;
}

// y = x * a[k] + b[k], k the channel, or (channel, position) when per_position.
template <class T>
void apply(const T* x, T* y, int64_t batch, int64_t channels, int64_t spatial, const Folded& f, bool per_position) {
  parallel_for(batch * channels, rows_per_chunk(spatial), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t c = p % channels;
      const T* in = x + p * spatial;
      T* out = y + p * spatial;
      if (per_position) {
        const double* a = f.a.data() + c * spatial;
        const double* b = f.b.data() + c * spatial;
        for (int64_t i = 0; i < spatial; ++i) out[i] = static_cast<T>(in[i] * a[i] + b[i]);
      } else {
        const T a = static_cast<T>(f.a[size_t(c)]);
        const T b = static_cast<T>(f.b[size_t(c)]);
        blocked_loop(0, spatial, [&](int64_t i) { out[i] = in[i] * a + b; });
      }
    }
  });
}

// Writes values to output `index` in the type of input `like`.
void write_stat(RunContext& ctx, size_t index, const std::vector<double>& values, DType like) {
  const Shape shape{static_cast<int64_t>(values.size())};
  if (like == DType::kF64) {
    double* o = ctx.allocate_output(index, like, shape).mutable_data<double>();
    for (size_t i = 0; i < values.size(); ++i) o[i] = values[i];
    return;
  }
  Tensor f32 = Tensor::zeros(DType::kF32, shape);
  for (size_t i = 0; i < values.size(); ++i) f32.mutable_data<float>()[i] = static_cast<float>(values[i]);
  if (is_half_dtype(like)) {
    narrow_from_f32(f32, ctx.allocate_output(index, like, shape));
  } else {
    ctx.outputs[index] = f32;
  }
}

class BatchNormKernel final : public Kernel {
 public:
  explicit BatchNormKernel(bool legacy) : legacy_(legacy) {}

  Status prepare(const PrepareContext& ctx) override {
    epsilon_ = ctx.node.attr_float("epsilon", 1e-5f);
    momentum_ = ctx.node.attr_float("momentum", 0.9f);
    training_ = !legacy_ && ctx.node.attr_int("training_mode", 0) != 0;
    per_position_ = legacy_ && ctx.node.attr_int("spatial", 1) == 0;
    if (legacy_)
      for (size_t i = 1; i < ctx.node.outputs.size(); ++i)
        if (!ctx.node.outputs[i].empty())
          return unsupported("training outputs of BatchNormalization before opset 14 are not supported");
    const Tensor* params[5] = {nullptr, ctx.constant(1), ctx.constant(2), ctx.constant(3), ctx.constant(4)};
    if (!training_ && params[1] && params[2] && params[3] && params[4]) {
      EMBER_ASSIGN_OR_RETURN(folded_, fold(params, epsilon_, "BatchNormalization '" + ctx.node.name + "'"));
      prepared_ = true;
    }
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    EMBER_TRY(require_inputs(ctx, 5, 5));
    const Tensor& x = ctx.input(0);
    if (x.rank() < 2)
      return invalid_input(ctx.where() + ": input must have rank >= 2 (N, C, ...), got " + shape_to_string(x.shape()));
    if (!traits(x.dtype()).is_float) return unsupported_dtype(ctx, x.dtype());
    const int64_t batch = x.dim(0), channels = x.dim(1);
    int64_t spatial = 1;
    for (int d = 2; d < x.rank(); ++d) spatial *= x.dim(d);
    const Tensor* params[5] = {&x, &ctx.input(1), &ctx.input(2), &ctx.input(3), &ctx.input(4)};
    Folded batch_folded;
    const Folded* f = &folded_;
    if (training_) {
      EMBER_TRY(fold_batch_statistics(ctx, params, batch, channels, spatial, batch_folded));
      f = &batch_folded;
    } else if (!prepared_) {
      EMBER_ASSIGN_OR_RETURN(batch_folded, fold(params, epsilon_, ctx.where()));
      f = &batch_folded;
    }
    const size_t expected = static_cast<size_t>(per_position_ ? channels * spatial : channels);
    if (f->a.size() != expected)
      return invalid_input(ctx.where() + ": parameters hold " + std::to_string(f->a.size()) + " values, expected " +
                           std::to_string(expected));
    if (is_half_dtype(x.dtype())) {
      const Tensor wide = widen_to_f32(x);
      Tensor out = Tensor::zeros(DType::kF32, x.shape());
      apply(wide.data<float>(), out.mutable_data<float>(), batch, channels, spatial, *f, per_position_);
      narrow_from_f32(out, ctx.allocate_output(0, x.dtype(), x.shape()));
    } else if (x.dtype() == DType::kF64) {
      apply(x.data<double>(), ctx.allocate_output(0, x.dtype(), x.shape()).mutable_data<double>(), batch, channels,
            spatial, *f, per_position_);
    } else {
      apply(x.data<float>(), ctx.allocate_output(0, x.dtype(), x.shape()).mutable_data<float>(), batch, channels,
            spatial, *f, per_position_);
    }
    return Status::Ok();
  }

 private:
  // Batch mean and population variance per channel, the folded transform that uses them,
  // and the running statistics (outputs 1 and 2).
  Status fold_batch_statistics(RunContext& ctx, const Tensor* const params[5], int64_t batch, int64_t channels,
                               int64_t spatial, Folded& out) const {
    const Tensor& x = *params[0];
    EMBER_ASSIGN_OR_RETURN(std::vector<float> values, x.to_floats());
    std::vector<double> mean(size_t(channels), 0.0), var(size_t(channels), 0.0);
    const double count = static_cast<double>(batch * spatial);
    for (int64_t p = 0; p < batch * channels; ++p)
      for (int64_t i = 0; i < spatial; ++i) mean[size_t(p % channels)] += values[size_t(p * spatial + i)];
    for (double& m : mean) m /= count;
    for (int64_t p = 0; p < batch * channels; ++p)
      for (int64_t i = 0; i < spatial; ++i) {
        const double d = values[size_t(p * spatial + i)] - mean[size_t(p % channels)];
        var[size_t(p % channels)] += d * d;
      }
    for (double& v : var) v /= count;

    EMBER_ASSIGN_OR_RETURN(std::vector<double> scale, read_values(*params[kScale], ctx.where()));
    EMBER_ASSIGN_OR_RETURN(std::vector<double> bias, read_values(*params[kBias], ctx.where()));
    EMBER_ASSIGN_OR_RETURN(std::vector<double> running_mean, read_values(*params[kMean], ctx.where()));
    EMBER_ASSIGN_OR_RETURN(std::vector<double> running_var, read_values(*params[kVar], ctx.where()));
    const size_t n = size_t(channels);
    if (scale.size() != n || bias.size() != n || running_mean.size() != n || running_var.size() != n)
      return invalid_input(ctx.where() + ": scale, bias, mean and var must hold one value per channel");
    out.a.resize(n);
    out.b.resize(n);
    for (size_t c = 0; c < n; ++c) {
      out.a[c] = scale[c] / std::sqrt(var[c] + epsilon_);
      out.b[c] = bias[c] - mean[c] * out.a[c];
      running_mean[c] = running_mean[c] * momentum_ + mean[c] * (1 - momentum_);
      running_var[c] = running_var[c] * momentum_ + var[c] * (1 - momentum_);
    }
    if (wants_output(ctx, 1)) write_stat(ctx, 1, running_mean, params[kMean]->dtype());
    if (wants_output(ctx, 2)) write_stat(ctx, 2, running_var, params[kVar]->dtype());
    return Status::Ok();
  }

  bool legacy_;
  double epsilon_ = 1e-5;
  double momentum_ = 0.9;
  bool training_ = false;
  bool per_position_ = false;
  bool prepared_ = false;
  Folded folded_;
};

}  // namespace

std::unique_ptr<Kernel> make_batch_norm_legacy_kernel() { return std::make_unique<BatchNormKernel>(true); }
std::unique_ptr<Kernel> make_batch_norm_kernel() { return std::make_unique<BatchNormKernel>(false); }

}  // namespace ember::runtime
