// Transposed views read in place, shared by the fused products (PermutedMatMul, Attention).
// A transposed view of a contiguous tensor is a strided one: view axis i has the stride of
// stored axis perm[i]. When the view's last two axes include the stored last axis (stride 1),
// each batch matrix is an ordinary row-major (or transposed) matrix with a row stride, which
// sgemm takes as it is; batch axes become offsets (stride 0 where they broadcast).
#pragma once
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "ir/tensor.h"

namespace ember::runtime::fused {

// The view Transpose(t, perm) (perm empty: t itself) as shape and element strides.
struct View {
  Shape shape;
  std::vector<int64_t> strides;
};
Result<View> permuted_view(const Shape& shape, const std::vector<int64_t>& perm, const std::string& where);

// Left-pads a view to `rank` axes with size-1 axes (which broadcast, stride 0).
void pad_view(View& v, size_t rank);

// One batch matrix of a view: sgemm's (trans, ld) for its last two axes.
struct MatrixLayout {
  bool trans = false;
  int64_t ld = 0;
};
Result<MatrixLayout> matrix_layout(const View& v, const std::string& where, const char* what);

// A fused product's perm_y attribute (empty: none), which must keep the last axis last.
Result<std::vector<int64_t>> output_perm(const ir::Node& node);

// The strides of the product's output, Transpose(product, perm_y), written in place: product
// axis a gets the stride of output axis inv(perm_y)[a]. Sets out_shape to the output's shape.
Result<std::vector<int64_t>> permuted_output_strides(const Shape& product, const std::vector<int64_t>& perm_y,
                                                     Shape& out_shape, const std::string& where);

}  // namespace ember::runtime::fused
