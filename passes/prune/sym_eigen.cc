#include "passes/prune/sym_eigen.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ember::passes::prune {
namespace {

// Zeroes a[p][q] by the rotation that diagonalises the 2x2 block (p, q); q accumulates it.
void rotate(std::vector<double>& a, std::vector<double>& v, int64_t n, int64_t p, int64_t q) {
  auto at = [n](std::vector<double>& m, int64_t i, int64_t j) -> double& { return m[size_t(i * n + j)]; };
  const double apq = at(a, p, q);
  if (apq == 0) return;
  const double theta = (at(a, q, q) - at(a, p, p)) / (2 * apq);
  const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
  const double c = 1 / std::sqrt(t * t + 1), s = t * c;
  for (int64_t k = 0; k < n; ++k) {  // columns p, q of A
    const double akp = at(a, k, p), akq = at(a, k, q);
    at(a, k, p) = c * akp - s * akq, at(a, k, q) = s * akp + c * akq;
  }
  for (int64_t k = 0; k < n; ++k) {  // rows p, q of A
    const double apk = at(a, p, k), aqk = at(a, q, k);
    at(a, p, k) = c * apk - s * aqk, at(a, q, k) = s * apk + c * aqk;
  }
  for (int64_t k = 0; k < n; ++k) {
    const double vkp = at(v, k, p), vkq = at(v, k, q);
    at(v, k, p) = c * vkp - s * vkq, at(v, k, q) = s * vkp + c * vkq;
  }
}

std::vector<double> sym_function(const SymEigen& e, int64_t n, double floor, bool inverse) {
  std::vector<double> out(size_t(n * n), 0.0);
  for (int64_t k = 0; k < n; ++k) {
    const double root = std::sqrt(std::max(e.values[size_t(k)], floor));
    const double f = inverse ? 1 / root : root;
    for (int64_t i = 0; i < n; ++i) {
      const double vik = e.vectors[size_t(i * n + k)] * f;
      for (int64_t j = 0; j < n; ++j) out[size_t(i * n + j)] += vik * e.vectors[size_t(j * n + k)];
    }
  }
  return out;
}

}  // namespace

SymEigen sym_eigen(std::vector<double> a, int64_t n) {
  std::vector<double> v(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) v[size_t(i * n + i)] = 1;
  double total = 0;
  for (double x : a) total += x * x;
  for (int sweep = 0; sweep < 64; ++sweep) {
    double off = 0;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) off += a[size_t(p * n + q)] * a[size_t(p * n + q)];
    if (off <= 1e-24 * total) break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) rotate(a, v, n, p, q);
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return a[size_t(x * n + x)] > a[size_t(y * n + y)]; });
  SymEigen e;
  e.values.resize(size_t(n));
  e.vectors.resize(size_t(n * n));
  for (int64_t k = 0; k < n; ++k) {
    const int64_t c = order[size_t(k)];
    e.values[size_t(k)] = a[size_t(c * n + c)];
    for (int64_t i = 0; i < n; ++i) e.vectors[size_t(i * n + k)] = v[size_t(i * n + c)];
  }
  return e;
}

std::vector<double> sym_sqrt(const SymEigen& e, int64_t n, double floor) { return sym_function(e, n, floor, false); }
std::vector<double> sym_inv_sqrt(const SymEigen& e, int64_t n, double floor) { return sym_function(e, n, floor, true); }

}  // namespace ember::passes::prune
