#include "runtime/fused/permuted_view.h"

#include <algorithm>

#include "runtime/kernels/kernel_util.h"

namespace ember::runtime::fused {
namespace {

bool is_permutation(const std::vector<int64_t>& perm) {
  std::vector<bool> seen(perm.size(), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= int64_t(perm.size()) || seen[size_t(p)]) return false;
    seen[size_t(p)] = true;
  }
  return true;
}

}  // namespace

Result<View> permuted_view(const Shape& shape, const std::vector<int64_t>& perm, const std::string& where) {
  const std::vector<int64_t> stored = contiguous_strides(shape);
  if (perm.empty()) return View{shape, stored};
  if (perm.size() != shape.size())
    return invalid_input(where + ": perm of " + std::to_string(perm.size()) + " axes for an input of shape " +
                         shape_to_string(shape));
  if (!is_permutation(perm)) return invalid_input(where + ": perm is not a permutation of the input's axes");
  View v;
  for (int64_t p : perm) {
    v.shape.push_back(shape[size_t(p)]);
    v.strides.push_back(stored[size_t(p)]);
  }
  return v;
}

void pad_view(View& v, size_t rank) {
  while (v.shape.size() < rank) {
    v.shape.insert(v.shape.begin(), 1);
    v.strides.insert(v.strides.begin(), 0);
  }
}

Result<MatrixLayout> matrix_layout(const View& v, const std::string& where, const char* what) {
  const size_t r = v.shape.size();
  const int64_t rows = v.strides[r - 2], cols = v.strides[r - 1];
  if (cols == 1 || v.shape[r - 1] == 1) return MatrixLayout{false, std::max<int64_t>(rows, v.shape[r - 1])};
  if (rows == 1 || v.shape[r - 2] == 1) return MatrixLayout{true, std::max<int64_t>(cols, v.shape[r - 2])};
  return invalid_input(where + ": the " + what + " view has no unit-stride axis among its last two");
}

Result<std::vector<int64_t>> output_perm(const ir::Node& node) {
  std::vector<int64_t> perm = node.attr_ints("perm_y");
  if (!perm.empty() && perm.back() != int64_t(perm.size()) - 1)
    return invalid_input("node '" + node.name + "' (" + node.op_type + "): perm_y must keep the last axis last");
  return perm;
}

Result<std::vector<int64_t>> permuted_output_strides(const Shape& product, const std::vector<int64_t>& perm_y,
                                                     Shape& out_shape, const std::string& where) {
  out_shape = product;
  std::vector<int64_t> strides = contiguous_strides(product);
  if (perm_y.empty()) return strides;
  const size_t rank = product.size();
  if (perm_y.size() != rank) return invalid_input(where + ": perm_y does not match the product's rank");
  if (!is_permutation(perm_y)) return invalid_input(where + ": perm_y is not a permutation of the product's axes");
  for (size_t i = 0; i < rank; ++i) out_shape[i] = product[size_t(perm_y[i])];
  const std::vector<int64_t> out_strides = contiguous_strides(out_shape);
  for (size_t i = 0; i < rank; ++i) strides[size_t(perm_y[i])] = out_strides[i];
  return strides;
}

}  // namespace ember::runtime::fused
