// Eigendecomposition of a small symmetric matrix (cyclic Jacobi rotations), for the whitened
// SVDs of head_width.h (head-dimension matrices, d <= a few hundred).
// A = Q diag(values) Q^T; the columns of Q (row-major [n, n]) are the eigenvectors, sorted by
// descending eigenvalue. Jacobi converges quadratically; the sweeps stop when the off-diagonal
// mass is below 1e-24 of the whole, or after 64 sweeps.
#pragma once
#include <cstdint>
#include <vector>

namespace ember::passes::prune {

struct SymEigen {
  std::vector<double> values;   // [n], descending
  std::vector<double> vectors;  // [n, n], column i the eigenvector of values[i]
};

SymEigen sym_eigen(std::vector<double> a, int64_t n);

// f(A) = Q diag(f(values)) Q^T for a symmetric positive semi-definite A: the square root and the
// inverse square root, eigenvalues clamped below at `floor` (> 0).
std::vector<double> sym_sqrt(const SymEigen& e, int64_t n, double floor);
std::vector<double> sym_inv_sqrt(const SymEigen& e, int64_t n, double floor);

}  // namespace ember::passes::prune
