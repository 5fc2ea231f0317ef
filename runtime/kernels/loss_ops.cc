// The loss operators of the default domain (opsets 12, 13), as the ONNX reference defines them:
//   NegativeLogLikelihoodLoss(input [N, C, d...], target [N, d...], weight [C]?)
//     loss[n, d] = -input[n, target[n, d], d] * w[target[n, d]]   (0 where target == ignore_index)
//   SoftmaxCrossEntropyLoss(scores, labels, weights?) = NLL(log_softmax(scores, axis 1), ...),
//     with log_prob as an optional second output.
// reduction: none (shape of target), sum, or mean (divided by the sum of the weights used, or
// by the element count when there are neither weights nor ignore_index). Summed in double.
#include <cmath>
#include <functional>
#include <optional>

#include "runtime/kernels/half_fallback.h"
#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/op_inputs.h"

namespace ember::runtime {
namespace {

double value_at(const Tensor& t, int64_t i) { return t.dtype() == DType::kF64 ? t.data<double>()[i] : double(t.data<float>()[i]); }

// The NLL of `logp` (read through `at`, [N, C, D] flattened) against `target`.
Status nll(RunContext& ctx, const Shape& input_shape, const std::function<double(int64_t)>& at, const Tensor& target,
           const Tensor* weight, DType out_type) {
  if (input_shape.size() < 2) return invalid_input(ctx.where() + ": the input needs rank 2 or more");
  const int64_t n = input_shape[0], c = input_shape[1];
  const int64_t d = shape_numel(input_shape) / std::max<int64_t>(1, n * c);
  if (target.numel() != n * d) return invalid_input(ctx.where() + ": the target shape " + shape_to_string(target.shape()) + " does not match the input");
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> labels, read_indices(ctx, 1));
  if (weight && weight->numel() != c) return invalid_input(ctx.where() + ": weight must have one value per class");
  const ir::Attribute* ignore_attr = ctx.node.find_attr("ignore_index");
  const bool has_ignore = ignore_attr != nullptr;
  const int64_t ignore_index = has_ignore ? ignore_attr->i : 0;
  const std::string reduction = ctx.node.attr_string("reduction", "mean");
  std::vector<double> loss(static_cast<size_t>(n * d));
  double weight_sum = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < d; ++k) {
      const int64_t label = labels[size_t(i * d + k)];
      const bool ignored = has_ignore && label == ignore_index;
      if (!ignored && (label < 0 || label >= c))
        return invalid_input(ctx.where() + ": target " + std::to_string(label) + " is outside [0, " + std::to_string(c) + ")");
      const double w = ignored ? 0.0 : (weight ? value_at(*weight, label) : 1.0);
      weight_sum += w;
      loss[size_t(i * d + k)] = ignored ? 0.0 : -at((i * c + label) * d + k) * w;
    }
  if (reduction == "none") {
    Tensor& y = ctx.allocate_output(0, out_type, target.shape());
    for (size_t i = 0; i < loss.size(); ++i)
      out_type == DType::kF64 ? void(y.mutable_data<double>()[i] = loss[i]) : void(y.mutable_data<float>()[i] = float(loss[i]));
    return Status::Ok();
  }
  if (reduction != "sum" && reduction != "mean") return invalid_input(ctx.where() + ": unknown reduction '" + reduction + "'");
  double total = 0;
  for (double v : loss) total += v;
  if (reduction == "mean") total /= (weight || has_ignore) ? weight_sum : double(loss.size());
  Tensor& y = ctx.allocate_output(0, out_type, {});
  out_type == DType::kF64 ? void(y.mutable_data<double>()[0] = total) : void(y.mutable_data<float>()[0] = float(total));
  return Status::Ok();
}

Status check_float(const RunContext& ctx) {
  const DType t = ctx.input(0).dtype();
  if (t != DType::kF32 && t != DType::kF64) return invalid_input(ctx.where() + ": the input must be float");
  return Status::Ok();
}

Status run_nll(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 3));
  EMBER_TRY(check_float(ctx));
  const Tensor& x = ctx.input(0);
  return nll(ctx, x.shape(), [&](int64_t i) { return value_at(x, i); }, ctx.input(1), ctx.has_input(2) ? &ctx.input(2) : nullptr, x.dtype());
}

Status run_softmax_cross_entropy(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 3));
  EMBER_TRY(check_float(ctx));
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) return invalid_input(ctx.where() + ": scores need rank 2 or more");
  const int64_t n = x.dim(0), c = x.dim(1), d = x.numel() / std::max<int64_t>(1, n * c);
  std::vector<double> logp(size_t(x.numel()));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < d; ++k) {
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < c; ++j) mx = std::max(mx, value_at(x, (i * c + j) * d + k));
      for (int64_t j = 0; j < c; ++j) sum += std::exp(value_at(x, (i * c + j) * d + k) - mx);
      for (int64_t j = 0; j < c; ++j) logp[size_t((i * c + j) * d + k)] = value_at(x, (i * c + j) * d + k) - mx - std::log(sum);
    }
  EMBER_TRY(nll(ctx, x.shape(), [&](int64_t i) { return logp[size_t(i)]; }, ctx.input(1), ctx.has_input(2) ? &ctx.input(2) : nullptr, x.dtype()));
  if (ctx.outputs.size() > 1 && !ctx.node.outputs[1].empty()) {
    Tensor& lp = ctx.allocate_output(1, x.dtype(), x.shape());
    for (size_t i = 0; i < logp.size(); ++i)
      x.dtype() == DType::kF64 ? void(lp.mutable_data<double>()[i] = logp[i]) : void(lp.mutable_data<float>()[i] = float(logp[i]));
  }
  return Status::Ok();
}

}  // namespace

void register_loss_kernels(KernelRegistry& registry) {
  registry.add_function("NegativeLogLikelihoodLoss", "", 12, with_half_support<run_nll>);
  registry.add_function("SoftmaxCrossEntropyLoss", "", 12, with_half_support<run_softmax_cross_entropy>);
}

}  // namespace ember::runtime
