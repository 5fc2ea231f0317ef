// Less common computing ops, by their ONNX reference definitions (float, summed in double):
//   LRN        y = x / (bias + alpha / size * sum of x^2 over the channel window)^beta
//   Det        determinant of each trailing M x M matrix (LU with partial pivoting)
//   Einsum     explicit or implicit (output = letters seen once, sorted) equations, "..." included
//   Unique     sorted (or first-occurrence) unique elements or slices, with indices,
//              inverse indices and counts
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "ir/dtype_dispatch.h"
#include "runtime/kernels/einsum_parse.h"
#include "runtime/kernels/half_fallback.h"
#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/op_inputs.h"

namespace ember::runtime {
namespace {

Status run_lrn(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DType::kF32 || x.rank() < 3) return invalid_input(ctx.where() + ": input must be float32 of rank 3 or more");
  const int64_t size = ctx.node.attr_int("size", 0);
  if (size <= 0) return invalid_input(ctx.where() + ": size must be positive");
  const double alpha = ctx.node.attr_float("alpha", 1e-4f), beta = ctx.node.attr_float("beta", 0.75f), bias = ctx.node.attr_float("bias", 1.0f);
  const int64_t n = x.dim(0), c = x.dim(1), inner = x.numel() / std::max<int64_t>(1, n * c);
  const int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
  Tensor& y = ctx.allocate_output(0, DType::kF32, x.shape());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < inner; ++i) {
        double sum = 0;
        for (int64_t k = std::max<int64_t>(0, ch - lo); k <= std::min(c - 1, ch + hi); ++k) {
          const double v = x.data<float>()[(b * c + k) * inner + i];
          sum += v * v;
        }
        const int64_t at = (b * c + ch) * inner + i;
        y.mutable_data<float>()[at] = float(x.data<float>()[at] / std::pow(bias + alpha / double(size) * sum, beta));
      }
  return Status::Ok();
}

Status run_det(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DType::kF32 || x.rank() < 2 || x.dim(x.rank() - 1) != x.dim(x.rank() - 2))
    return invalid_input(ctx.where() + ": input must be float32 [..., M, M]");
  const int64_t m = x.dim(x.rank() - 1), count = x.numel() / std::max<int64_t>(1, m * m);
  Shape out(x.shape().begin(), x.shape().end() - 2);
  Tensor& y = ctx.allocate_output(0, DType::kF32, out);
  std::vector<double> a(static_cast<size_t>(m * m));
  for (int64_t b = 0; b < count; ++b) {
    for (int64_t i = 0; i < m * m; ++i) a[size_t(i)] = x.data<float>()[b * m * m + i];
    double det = 1;
    for (int64_t col = 0; col < m && det != 0; ++col) {
      int64_t pivot = col;
      for (int64_t r = col + 1; r < m; ++r)
        if (std::fabs(a[size_t(r * m + col)]) > std::fabs(a[size_t(pivot * m + col)])) pivot = r;
      if (a[size_t(pivot * m + col)] == 0) {
        det = 0;
        break;
      }
      if (pivot != col) {
        for (int64_t k = 0; k < m; ++k) std::swap(a[size_t(pivot * m + k)], a[size_t(col * m + k)]);
        det = -det;
      }
      det *= a[size_t(col * m + col)];
      for (int64_t r = col + 1; r < m; ++r) {
        const double f = a[size_t(r * m + col)] / a[size_t(col * m + col)];
        for (int64_t k = col; k < m; ++k) a[size_t(r * m + k)] -= f * a[size_t(col * m + k)];
      }
    }
    y.mutable_data<float>()[b] = float(det);
  }
  return Status::Ok();
}

}  // namespace

// Parses an explicit ("ij,jk->ik") or implicit ("ij,jk": letters seen once, sorted)
// equation; "..." becomes the capital letters A, B, ... (ellipsis dims, right aligned).
Result<EinsumSubscripts> parse_einsum(const RunContext& ctx) {
  std::string eq = ctx.node.attr_string("equation", "");
  eq.erase(std::remove(eq.begin(), eq.end(), ' '), eq.end());
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  EinsumSubscripts e;
  for (size_t start = 0;;) {
    const size_t comma = lhs.find(',', start);
    e.terms.push_back(lhs.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (e.terms.size() != ctx.num_inputs())
    return invalid_input(ctx.where() + ": the equation has " + std::to_string(e.terms.size()) + " operands, the node " + std::to_string(ctx.num_inputs()));
  int ellipsis_rank = 0;
  for (size_t i = 0; i < e.terms.size(); ++i)
    if (e.terms[i].find("...") != std::string::npos)
      ellipsis_rank = std::max(ellipsis_rank, ctx.input(i).rank() - int(e.terms[i].size() - 3));
  std::string ell;
  for (int k = 0; k < ellipsis_rank; ++k) ell += char('A' + k);
  std::map<char, int> seen;
  for (size_t i = 0; i < e.terms.size(); ++i) {
    std::string& t = e.terms[i];
    const int rank = ctx.input(i).rank();
    const size_t p = t.find("...");
    if (p != std::string::npos) t.replace(p, 3, ell.substr(size_t(ellipsis_rank - (rank - int(t.size() - 3)))));
    if (int(t.size()) != rank) return invalid_input(ctx.where() + ": operand " + std::to_string(i) + " does not match its subscripts");
    for (size_t k = 0; k < t.size(); ++k) {
      const char ch = t[k];
      const int64_t d = ctx.input(i).dim(int(k));
      if (e.dims.count(ch) && e.dims[ch] != d && e.dims[ch] != 1 && d != 1)
        return invalid_input(ctx.where() + ": dimension mismatch for '" + std::string(1, ch) + "'");
      e.dims[ch] = std::max(e.dims.count(ch) ? e.dims[ch] : 1, d);
      ++seen[ch];
    }
  }
  if (arrow != std::string::npos) {
    e.out = eq.substr(arrow + 2);
    const size_t p = e.out.find("...");
    if (p != std::string::npos) e.out.replace(p, 3, ell);
  } else {
    e.out = ell;
    for (const auto& [ch, n] : seen)
      if (n == 1 && !(ch >= 'A' && ch <= 'Z')) e.out += ch;
  }
  return e;
}

namespace {

// Einsum: every operand's letters index one shared loop nest; the output sums over the
// letters it does not keep.
Status run_einsum(RunContext& ctx) {
  const DType type = ctx.input(0).dtype();
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.input(i).dtype() != type || (type != DType::kF32 && type != DType::kF64))
      return invalid_input(ctx.where() + ": operands must all be float32 or all float64");
  auto value = [&](size_t i, int64_t off) {
    return type == DType::kF64 ? ctx.input(i).data<double>()[off] : double(ctx.input(i).data<float>()[off]);
  };
  EMBER_ASSIGN_OR_RETURN(EinsumSubscripts e, parse_einsum(ctx));
  const std::vector<std::string>& terms = e.terms;
  const std::string& out = e.out;
  std::map<char, int64_t>& dims = e.dims;
  std::string letters = out;
  for (const auto& [ch, d] : dims)
    if (out.find(ch) == std::string::npos) letters += ch;
  Shape out_shape;
  for (char ch : out) {
    if (!dims.count(ch)) return invalid_input(ctx.where() + ": output letter '" + std::string(1, ch) + "' is in no operand");
    out_shape.push_back(dims[ch]);
  }
  Tensor& y = ctx.allocate_output(0, type, out_shape);
  std::vector<int64_t> extent;
  for (char ch : letters) extent.push_back(dims[ch]);
  // Strides of each operand per loop letter (0 for absent or broadcast dims).
  std::vector<std::vector<int64_t>> strides(terms.size(), std::vector<int64_t>(letters.size(), 0));
  for (size_t i = 0; i < terms.size(); ++i) {
    int64_t s = 1;
    for (int k = int(terms[i].size()) - 1; k >= 0; --k) {
      const size_t l = letters.find(terms[i][size_t(k)]);
      if (ctx.input(i).dim(k) != 1) strides[i][l] += s;
      s *= ctx.input(i).dim(k);
    }
  }
  const int64_t out_count = y.numel(), total = shape_numel(Shape(extent.begin(), extent.end()));
  std::vector<double> acc(size_t(out_count), 0.0);
  std::vector<int64_t> idx(letters.size(), 0);
  for (int64_t it = 0; it < total; ++it) {
    double prod = 1;
    for (size_t i = 0; i < terms.size(); ++i) {
      int64_t off = 0;
      for (size_t l = 0; l < letters.size(); ++l) off += idx[l] * strides[i][l];
      prod *= value(i, off);
    }
    int64_t o = 0;
    for (size_t l = 0; l < out.size(); ++l) o = o * extent[l] + idx[l];
    acc[size_t(o)] += prod;
    for (size_t l = letters.size(); l-- > 0;) {
      if (++idx[l] < extent[l]) break;
      idx[l] = 0;
    }
  }
  for (int64_t i = 0; i < out_count; ++i)
    type == DType::kF64 ? void(y.mutable_data<double>()[i] = acc[size_t(i)]) : void(y.mutable_data<float>()[i] = float(acc[size_t(i)]));
  return Status::Ok();
}

Status run_unique(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  const Tensor& x = ctx.input(0);
  const ir::Attribute* axis_attr = ctx.node.find_attr("axis");
  const bool sorted = ctx.node.attr_int("sorted", 1) != 0;
  const Shape shape = axis_attr ? x.shape() : Shape{x.numel()};
  int64_t axis = axis_attr ? axis_attr->i : 0;
  if (axis < 0) axis += int64_t(shape.size());
  if (axis < 0 || axis >= int64_t(shape.size())) return invalid_input(ctx.where() + ": axis out of range");
  const int64_t n = shape[size_t(axis)];
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= shape[size_t(d)];
  for (size_t d = size_t(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  Status status = Status::Ok();
  const bool ok = dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    auto slice = [&](int64_t s) {
      std::vector<T> v;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) v.push_back(x.data<T>()[(o * n + s) * inner + i]);
      return v;
    };
    std::map<std::vector<T>, int64_t> first;  // slice -> first index
    std::vector<int64_t> order, inverse(static_cast<size_t>(n)), counts;
    for (int64_t s = 0; s < n; ++s) first.emplace(slice(s), s);
    if (sorted) {
      for (const auto& [v, f] : first) order.push_back(f);
    } else {
      for (int64_t s = 0; s < n; ++s)
        if (first.at(slice(s)) == s) order.push_back(s);
    }
    std::map<int64_t, int64_t> rank_of;
    for (size_t k = 0; k < order.size(); ++k) rank_of[order[k]] = int64_t(k);
    counts.assign(order.size(), 0);
    for (int64_t s = 0; s < n; ++s) {
      inverse[size_t(s)] = rank_of[first.at(slice(s))];
      ++counts[size_t(inverse[size_t(s)])];
    }
    Shape out = shape;
    out[size_t(axis)] = int64_t(order.size());
    Tensor& y = ctx.allocate_output(0, x.dtype(), out);
    for (int64_t o = 0; o < outer; ++o)
      for (size_t k = 0; k < order.size(); ++k)
        for (int64_t i = 0; i < inner; ++i)
          y.mutable_data<T>()[(o * int64_t(order.size()) + int64_t(k)) * inner + i] = x.data<T>()[(o * n + order[k]) * inner + i];
    auto write = [&](size_t index, const std::vector<int64_t>& v) {
      if (ctx.outputs.size() <= index || ctx.node.outputs[index].empty()) return;
      Tensor& t = ctx.allocate_output(index, DType::kI64, {int64_t(v.size())});
      std::copy(v.begin(), v.end(), t.mutable_data<int64_t>());
    };
    write(1, order);
    write(2, inverse);
    write(3, counts);
  });
  if (!ok) return invalid_input(ctx.where() + ": element type " + std::string(dtype_name(x.dtype())) + " is not supported");
  return status;
}

}  // namespace

void register_misc_math_kernels(KernelRegistry& registry) {
  registry.add_function("LRN", "", 1, with_half_support<run_lrn>);
  registry.add_function("Det", "", 11, with_half_support<run_det>);
  registry.add_function("Einsum", "", 12, run_einsum);
  registry.add_function("Unique", "", 11, run_unique);
}

}  // namespace ember::runtime
