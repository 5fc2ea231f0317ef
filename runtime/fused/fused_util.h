// Helpers shared by the fused kernels: reading per-column parameters (a scalar or N values)
// and the output shape of a product over the last axis.
#pragma once
#include <string>
#include <vector>

#include "ir/status.h"
#include "ir/tensor.h"
#include "runtime/kernel.h"
#include "runtime/kernels/quant_params.h"

namespace ember::runtime::fused {

// N values from a scalar, [N] or [1, N] float tensor.
inline Result<std::vector<float>> per_column_floats(const Tensor& t, int64_t N, const std::string& where,
                                                    const std::string& what) {
  EMBER_ASSIGN_OR_RETURN(std::vector<float> v, read_float_params(t, where, what));
  if (v.size() == 1) return std::vector<float>(static_cast<size_t>(N), v[0]);
  if (static_cast<int64_t>(v.size()) != N)
    return invalid_input(where + ": " + what + " must be a scalar or have " + std::to_string(N) + " values, got " +
                         shape_to_string(t.shape()));
  return v;
}

inline Result<std::vector<int32_t>> per_column_ints(const Tensor& t, int64_t N, const std::string& where,
                                                    const std::string& what) {
  EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> v, read_int_params(t, where, what));
  if (v.size() == 1) return std::vector<int32_t>(static_cast<size_t>(N), v[0]);
  if (static_cast<int64_t>(v.size()) != N)
    return invalid_input(where + ": " + what + " must be a scalar or have " + std::to_string(N) + " values, got " +
                         shape_to_string(t.shape()));
  return v;
}

// X [..., K] times a K x N matrix: rows M and output shape [..., N].
struct RowsShape {
  int64_t M = 0;
  Shape out;
};
inline Result<RowsShape> rows_shape(const Tensor& x, int64_t K, int64_t N, const std::string& where) {
  if (x.rank() < 1 || x.dim(x.rank() - 1) != K)
    return invalid_input(where + ": input " + shape_to_string(x.shape()) + " must end in K = " + std::to_string(K));
  RowsShape r;
  r.M = K > 0 ? x.numel() / K : 0;
  r.out = x.shape();
  r.out.back() = N;
  return r;
}

inline std::string where_of(const ir::Node& node) { return "node '" + node.name + "' (" + node.op_type + ")"; }

}  // namespace ember::runtime::fused
