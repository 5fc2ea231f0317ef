// Random generators: RandomUniform, RandomNormal, their *Like forms, Bernoulli, Multinomial.
// Ember's outputs must be reproducible, so the generator (mt19937) is seeded by the `seed`
// attribute, or by 0 when it is absent, and restarts at every run: the same model and inputs
// give the same bytes (onnxruntime draws differently; no run compares them bit for bit).
#include <cmath>
#include <random>

#include "ir/dtype_dispatch.h"
#include "ir/memory_limits.h"
#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/op_inputs.h"

namespace ember::runtime {
namespace {

std::mt19937 generator(const RunContext& ctx) { return std::mt19937(uint32_t(int64_t(ctx.node.attr_float("seed", 0.0f)))); }

Status fill(RunContext& ctx, DType dtype, const Shape& shape, bool normal) {
  if (dtype != DType::kF32 && dtype != DType::kF64) return invalid_input(ctx.where() + ": dtype must be float or double");
  EMBER_TRY(check_output_shape(ctx.where(), dtype, shape));
  std::mt19937 rng = generator(ctx);
  Tensor& y = ctx.allocate_output(0, dtype, shape);
  const double a = normal ? ctx.node.attr_float("mean", 0.0f) : ctx.node.attr_float("low", 0.0f);
  const double b = normal ? ctx.node.attr_float("scale", 1.0f) : ctx.node.attr_float("high", 1.0f);
  std::normal_distribution<double> nd(a, b);
  std::uniform_real_distribution<double> ud(a, b);
  for (int64_t i = 0; i < y.numel(); ++i) {
    const double v = normal ? nd(rng) : ud(rng);
    dtype == DType::kF64 ? void(y.mutable_data<double>()[i] = v) : void(y.mutable_data<float>()[i] = float(v));
  }
  return Status::Ok();
}

template <bool kNormal>
Status run_random(RunContext& ctx) {
  const std::vector<int64_t> shape = ctx.node.attr_ints("shape");
  for (int64_t d : shape)
    if (d < 0) return invalid_input(ctx.where() + ": negative dimension in shape");
  return fill(ctx, static_cast<DType>(ctx.node.attr_int("dtype", 1)), Shape(shape.begin(), shape.end()), kNormal);
}

template <bool kNormal>
Status run_random_like(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  const Tensor& x = ctx.input(0);
  const ir::Attribute* dtype = ctx.node.find_attr("dtype");
  return fill(ctx, dtype ? static_cast<DType>(dtype->i) : x.dtype(), x.shape(), kNormal);
}

Status run_bernoulli(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  const Tensor& p = ctx.input(0);
  if (p.dtype() != DType::kF32 && p.dtype() != DType::kF64) return invalid_input(ctx.where() + ": input must be float or double");
  const ir::Attribute* dtype_attr = ctx.node.find_attr("dtype");
  const DType dtype = dtype_attr ? static_cast<DType>(dtype_attr->i) : p.dtype();
  std::mt19937 rng = generator(ctx);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Tensor& y = ctx.allocate_output(0, dtype, p.shape());
  bool ok = true;
  for (int64_t i = 0; i < p.numel() && ok; ++i) {
    const double prob = p.dtype() == DType::kF64 ? p.data<double>()[i] : double(p.data<float>()[i]);
    const bool one = u(rng) < prob;
    ok = dispatch_dtype(dtype, [&](auto tag) { y.mutable_data<decltype(tag)>()[i] = static_cast<decltype(tag)>(one ? 1 : 0); });
  }
  return ok ? Status::Ok() : invalid_input(ctx.where() + ": output type not supported");
}

Status run_multinomial(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  const Tensor& x = ctx.input(0);  // [batch, classes] unnormalised log-probabilities
  if (x.dtype() != DType::kF32 || x.rank() != 2) return invalid_input(ctx.where() + ": input must be float [batch, classes]");
  const int64_t samples = ctx.node.attr_int("sample_size", 1);
  const DType dtype = static_cast<DType>(ctx.node.attr_int("dtype", int64_t(DType::kI32)));
  if (samples < 1 || (dtype != DType::kI32 && dtype != DType::kI64)) return invalid_input(ctx.where() + ": sample_size >= 1 and an int32/int64 dtype are required");
  std::mt19937 rng = generator(ctx);
  Tensor& y = ctx.allocate_output(0, dtype, {x.dim(0), samples});
  for (int64_t b = 0; b < x.dim(0); ++b) {
    std::vector<double> w(static_cast<size_t>(x.dim(1)));
    for (int64_t c = 0; c < x.dim(1); ++c) w[size_t(c)] = std::exp(double(x.data<float>()[b * x.dim(1) + c]));
    std::discrete_distribution<int64_t> pick(w.begin(), w.end());
    for (int64_t s = 0; s < samples; ++s) {
      const int64_t v = pick(rng);
      dtype == DType::kI64 ? void(y.mutable_data<int64_t>()[b * samples + s] = v) : void(y.mutable_data<int32_t>()[b * samples + s] = int32_t(v));
    }
  }
  return Status::Ok();
}

}  // namespace

void register_random_kernels(KernelRegistry& registry) {
  registry.add_function("RandomUniform", "", 1, run_random<false>);
  registry.add_function("RandomNormal", "", 1, run_random<true>);
  registry.add_function("RandomUniformLike", "", 1, run_random_like<false>);
  registry.add_function("RandomNormalLike", "", 1, run_random_like<true>);
  registry.add_function("Bernoulli", "", 15, run_bernoulli);
  registry.add_function("Multinomial", "", 7, run_multinomial);
}

}  // namespace ember::runtime
