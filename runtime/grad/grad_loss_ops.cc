// Backward rules of the ONNX loss operators (loss_ops.cc), for the scores (the labels are
// integers and the class weights constants in practice; they get no gradient). With g[i, k]
// the gradient reaching the loss of sample i, position k: dy itself (reduction none), dy
// (sum), or dy / the mean's divisor (the used weights' sum, or the element count):
//   NegativeLogLikelihoodLoss: d input[i, label, k] = -w[label] g[i, k] (0 where ignored)
//   SoftmaxCrossEntropyLoss, logp = log_softmax(scores, axis 1): dlogp is the NLL gradient
//     plus the gradient of the log_prob output, then dscores_j = dlogp_j - p_j sum_j dlogp_j
#include <cmath>

#include "runtime/grad/grad_util.h"

namespace ember::runtime::grad {
namespace {

GradNeeds loss_needs(const ir::Node&, IndexMask) { return {bit(0) | bit(1) | bit(2), 0}; }

// d loss / d logp (or d input for NLL) as a dense [N, C, D] array.
Result<std::vector<double>> nll_grad(const BackwardContext& ctx, const Shape& shape) {
  if (shape.size() < 2) return invalid_input(ctx.where() + ": the input needs rank 2 or more");
  const int64_t n = shape[0], c = shape[1], d = shape_numel(shape) / std::max<int64_t>(1, n * c);
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> labels, read_int_input(ctx, 1));
  std::vector<float> weight;
  if (ctx.has_input(2)) {
    EMBER_ASSIGN_OR_RETURN(weight, ctx.input(2).to_floats());
  }
  if (int64_t(labels.size()) != n * d || (!weight.empty() && int64_t(weight.size()) != c))
    return invalid_input(ctx.where() + ": the target or weight shape does not match the input");
  const ir::Attribute* ignore_attr = ctx.node.find_attr("ignore_index");
  const std::string reduction = ctx.node.attr_string("reduction", "mean");
  auto w_of = [&](int64_t label) -> double {
    if (ignore_attr && label == ignore_attr->i) return 0.0;
    return weight.empty() ? 1.0 : weight[size_t(label)];
  };
  double divisor = 1.0;
  if (reduction == "mean") {
    divisor = 0;
    for (int64_t label : labels) divisor += (!weight.empty() || ignore_attr) ? w_of(label) : 1.0;
  }
  std::vector<double> grad(size_t(n * c * d), 0.0);
  if (!ctx.has_output_grad(0)) return grad;
  const float* dy = ctx.output_grad(0).data<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < d; ++k) {
      const int64_t label = labels[size_t(i * d + k)];
      const double w = w_of(label);
      if (w == 0.0) continue;
      if (label < 0 || label >= c) return invalid_input(ctx.where() + ": target outside the classes");
      const double g = reduction == "none" ? dy[i * d + k] : dy[0] / divisor;
      grad[size_t((i * c + label) * d + k)] = -w * g;
    }
  return grad;
}

Status nll_backward(BackwardContext& ctx) {
  if (!ctx.wants(0)) return Status::Ok();
  EMBER_ASSIGN_OR_RETURN(std::vector<double> g, nll_grad(ctx, ctx.input_shapes[0]));
  ctx.input_grads[0] = Tensor::from_vector<float>(ctx.input_shapes[0], std::vector<float>(g.begin(), g.end()));
  return Status::Ok();
}

Status softmax_cross_entropy_backward(BackwardContext& ctx) {
  if (!ctx.wants(0)) return Status::Ok();
  const Tensor& x = ctx.input(0);
  EMBER_TRY(require_f32(ctx, x, "the scores"));
  EMBER_ASSIGN_OR_RETURN(std::vector<double> dlogp, nll_grad(ctx, x.shape()));
  if (ctx.has_output_grad(1))
    for (size_t i = 0; i < dlogp.size(); ++i) dlogp[i] += ctx.output_grad(1).data<float>()[i];
  const int64_t n = x.dim(0), c = x.dim(1), d = x.numel() / std::max<int64_t>(1, n * c);
  const float* px = x.data<float>();
  Tensor dx = ctx.allocate(x.shape());
  float* out = dx.mutable_data<float>();
  std::vector<double> p(static_cast<size_t>(c));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < d; ++k) {
      auto at = [&](int64_t j) { return (i * c + j) * d + k; };
      double mx = -INFINITY, sum = 0, total = 0;
      for (int64_t j = 0; j < c; ++j) mx = std::max(mx, double(px[at(j)]));
      for (int64_t j = 0; j < c; ++j) sum += p[size_t(j)] = std::exp(px[at(j)] - mx);
      for (int64_t j = 0; j < c; ++j) total += dlogp[size_t(at(j))];
      for (int64_t j = 0; j < c; ++j) out[at(j)] = static_cast<float>(dlogp[size_t(at(j))] - p[size_t(j)] / sum * total);
    }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

}  // namespace

void register_loss_ops_grads(GradRegistry& r) {
  r.add("NegativeLogLikelihoodLoss", bit(0), loss_needs, nll_backward);
  r.add("SoftmaxCrossEntropyLoss", bit(0), loss_needs, softmax_cross_entropy_backward);
}

}  // namespace ember::runtime::grad
