// Dense Cholesky factorisation and triangular inverse for GPTQ, blocked so that almost all
// the work is float matrix products (runtime::sgemm): a Hessian of a 1536-wide layer
// factors in tens of milliseconds instead of seconds. Float matches the precision of the
// reference GPTQ implementation; the small diagonal blocks accumulate in double.
// Matrices are row-major [n, n] floats.
#pragma once
#include <cstdint>
#include <vector>

namespace ember::passes::quant {

// In place: the lower triangle of `a` becomes L with A = L L^T; the strict upper triangle
// is zeroed. False when A is not (numerically) positive definite.
bool cholesky_lower(std::vector<float>& a, int64_t n);

// X = L^-1 for a lower-triangular L with a positive diagonal.
std::vector<float> invert_lower(const std::vector<float>& l, int64_t n);
// The same in place, for an L whose strict upper triangle is zero (as cholesky_lower leaves
// it): GPTQ's 5632-wide factor then needs one [n, n] matrix, not two. Same values as
// invert_lower: each block of rows reads only L's rows of that block, and X's rows above.
void invert_lower_in_place(std::vector<float>& l, int64_t n);

}  // namespace ember::passes::quant
