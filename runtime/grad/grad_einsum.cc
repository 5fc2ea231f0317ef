// Backward rule of Einsum. The forward sums, over one loop nest of every letter, the product
// of the operands at their offsets: y[o] = sum prod_j X_j[off_j]. So each operand's gradient
// walks the same nest: dX_k[off_k] += dy[o] prod_{j != k} X_j[off_j]. Repeated letters in a
// term (diagonals) and broadcast dims of size 1 (stride 0) are handled by the offsets
// themselves, which are the forward's (parse_einsum, shared with the kernel).
#include "runtime/grad/grad_util.h"
#include "runtime/kernels/einsum_parse.h"
#include "runtime/single_op.h"

namespace ember::runtime::grad {
namespace {

Status einsum_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const size_t n = ctx.inputs.size();
  for (size_t i = 0; i < n; ++i) EMBER_TRY(require_f32(ctx, ctx.input(i), "operand " + std::to_string(i)));
  std::vector<Tensor> outputs;
  HeapAllocator heap;
  const RunContext rc{ctx.node, ctx.inputs, outputs, heap};
  EMBER_ASSIGN_OR_RETURN(EinsumSubscripts e, parse_einsum(rc));
  std::string letters = e.out;  // output letters first, as in the forward
  for (const auto& [ch, d] : e.dims)
    if (e.out.find(ch) == std::string::npos) letters += ch;
  std::vector<int64_t> extent;
  for (char ch : letters) extent.push_back(e.dims[ch]);
  std::vector<std::vector<int64_t>> strides(n, std::vector<int64_t>(letters.size(), 0));
  for (size_t i = 0; i < n; ++i) {
    int64_t s = 1;
    for (int k = int(e.terms[i].size()) - 1; k >= 0; --k) {
      if (ctx.input(i).dim(k) != 1) strides[i][letters.find(e.terms[i][size_t(k)])] += s;
      s *= ctx.input(i).dim(k);
    }
  }
  std::vector<std::vector<double>> grads(n);
  for (size_t i = 0; i < n; ++i)
    if (ctx.wants(i)) grads[i].assign(size_t(ctx.input(i).numel()), 0.0);
  const float* dy = ctx.output_grad(0).data<float>();
  std::vector<int64_t> idx(letters.size(), 0), off(n);
  const int64_t total = shape_numel(Shape(extent.begin(), extent.end()));
  for (int64_t it = 0; it < total; ++it) {
    int64_t o = 0;
    for (size_t l = 0; l < e.out.size(); ++l) o = o * extent[l] + idx[l];
    for (size_t i = 0; i < n; ++i) {
      off[i] = 0;
      for (size_t l = 0; l < letters.size(); ++l) off[i] += idx[l] * strides[i][l];
    }
    for (size_t k = 0; k < n; ++k) {
      if (grads[k].empty()) continue;
      double g = dy[o];
      for (size_t j = 0; j < n; ++j)
        if (j != k) g *= ctx.input(j).data<float>()[off[j]];
      grads[k][size_t(off[k])] += g;
    }
    for (size_t l = letters.size(); l-- > 0;) {
      if (++idx[l] < extent[l]) break;
      idx[l] = 0;
    }
  }
  for (size_t i = 0; i < n; ++i)
    if (!grads[i].empty())
      ctx.input_grads[i] = Tensor::from_vector<float>(ctx.input_shapes[i], std::vector<float>(grads[i].begin(), grads[i].end()));
  return Status::Ok();
}

}  // namespace

void register_einsum_grads(GradRegistry& r) { r.add("Einsum", kAllIndices, needs_all_inputs, einsum_backward); }

}  // namespace ember::runtime::grad
