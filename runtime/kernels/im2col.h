// im2col and its adjoint col2im for any number of spatial axes, so every convolution becomes
// one GEMM per image and group:
//   Conv:          Y[M/g, P]        = W[M/g, C/g * k] * col[C/g * k, P]      (im2col of X)
//   ConvTranspose: col[M/g * k, P]  = W^T[M/g * k, C/g] * X[C/g, P]          (col2im into Y)
// col has one row per (channel, kernel offset) and one column per output position of the
// window geometry; [p0, p1) selects a slice of output positions so the buffer stays bounded.
// Positions that fall into the padding read as zero (im2col) or are dropped (col2im).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "runtime/kernels/window_geometry.h"

namespace ember::runtime {

namespace im2col_detail {

// Calls run(column, count, base, o_last) for each stretch of output positions
// [p0, p1) that shares one row of the last axis, for one kernel offset `k` (per axis).
// base is the input offset of that row (all axes but the last), or -1 when the row lies in
// the padding; o_last is the first output coordinate on the last axis.
template <class F>
void for_each_row_run(const WindowGeometry& g, const std::vector<int64_t>& k, int64_t p0, int64_t p1, F&& run) {
  const int rank = g.rank();
  const int last = rank - 1;
  std::vector<int64_t> o(static_cast<size_t>(rank));
  int64_t rest = p0;
  for (int a = last; a >= 0; --a) {
    o[static_cast<size_t>(a)] = rest % g.out[static_cast<size_t>(a)];
    rest /= g.out[static_cast<size_t>(a)];
  }
  int64_t p = p0;
  while (p < p1) {
    const int64_t count = std::min(g.out[static_cast<size_t>(last)] - o[static_cast<size_t>(last)], p1 - p);
    int64_t base = 0;
    for (int a = 0; a < last && base >= 0; ++a) {
      const size_t s = static_cast<size_t>(a);
      const int64_t i = o[s] * g.stride[s] - g.pad_begin[s] + k[s] * g.dilation[s];
      base = (i < 0 || i >= g.in[s]) ? -1 : base * g.in[s] + i;
    }
    if (base >= 0) base *= g.in[static_cast<size_t>(last)];
    run(p - p0, count, base, o[static_cast<size_t>(last)]);
    p += count;
    o[static_cast<size_t>(last)] += count;
    for (int a = last; a > 0 && o[static_cast<size_t>(a)] == g.out[static_cast<size_t>(a)]; --a) {
      o[static_cast<size_t>(a)] = 0;
      ++o[static_cast<size_t>(a - 1)];
    }
  }
}

// The output coordinates [lo, hi) of the last axis whose input coordinate
// o * stride - pad + k * dilation falls inside [0, in).
inline void valid_range(const WindowGeometry& g, int64_t k, int64_t* lo, int64_t* hi) {
  const size_t a = static_cast<size_t>(g.rank() - 1);
  const int64_t shift = k * g.dilation[a] - g.pad_begin[a];  // input = o * stride + shift
  const int64_t s = g.stride[a];
  *lo = shift >= 0 ? 0 : (-shift + s - 1) / s;
  const int64_t top = g.in[a] - 1 - shift;  // largest o * stride allowed
  *hi = top < 0 ? 0 : top / s + 1;
}

// Steps the per-axis kernel offset like an odometer; false after the last offset.
inline bool next_offset(const WindowGeometry& g, std::vector<int64_t>& k) {
  for (size_t a = k.size(); a-- > 0;) {
    if (++k[a] < g.kernel[a]) return true;
    k[a] = 0;
  }
  return false;
}

}  // namespace im2col_detail

// col[(c * kernel_size + kernel_offset) * (p1 - p0) + (p - p0)] = x[c, input position].
template <class T>
void im2col(const T* x, int64_t channels, const WindowGeometry& g, int64_t p0, int64_t p1, T* col) {
  namespace d = im2col_detail;
  const int64_t width = p1 - p0, in_size = g.in_size();
  const size_t last = static_cast<size_t>(g.rank() - 1);
  const int64_t s = g.stride[last];
  T* row = col;
  for (int64_t c = 0; c < channels; ++c) {
    const T* xc = x + c * in_size;
    std::vector<int64_t> k(static_cast<size_t>(g.rank()), 0);
    do {
      int64_t lo, hi;
      d::valid_range(g, k[last], &lo, &hi);
      const int64_t shift = k[last] * g.dilation[last] - g.pad_begin[last];
      d::for_each_row_run(g, k, p0, p1, [&](int64_t column, int64_t count, int64_t base, int64_t o0) {
        T* dst = row + column;
        const int64_t a = std::clamp(lo, o0, o0 + count), b = std::clamp(hi, a, o0 + count);
        if (base < 0 || a >= b) {
          std::fill(dst, dst + count, T(0));
          return;
        }
        std::fill(dst, dst + (a - o0), T(0));
        const int64_t first = base + shift + a * s;  // input index of output coordinate a
        if (s == 1) {
          std::copy(xc + first, xc + first + (b - a), dst + (a - o0));
        } else {
          for (int64_t o = a; o < b; ++o) dst[o - o0] = xc[first + (o - a) * s];
        }
        std::fill(dst + (b - o0), dst + count, T(0));
      });
      row += width;
    } while (d::next_offset(g, k));
  }
}

// The adjoint of im2col: y[c, input position] += col[...] for every position inside y.
template <class T>
void col2im_add(const T* col, int64_t channels, const WindowGeometry& g, int64_t p0, int64_t p1, T* y) {
  namespace d = im2col_detail;
  const int64_t width = p1 - p0, in_size = g.in_size();
  const size_t last = static_cast<size_t>(g.rank() - 1);
  const int64_t s = g.stride[last];
  const T* row = col;
  for (int64_t c = 0; c < channels; ++c) {
    T* yc = y + c * in_size;
    std::vector<int64_t> k(static_cast<size_t>(g.rank()), 0);
    do {
      int64_t lo, hi;
      d::valid_range(g, k[last], &lo, &hi);
      const int64_t shift = k[last] * g.dilation[last] - g.pad_begin[last];
      d::for_each_row_run(g, k, p0, p1, [&](int64_t column, int64_t count, int64_t base, int64_t o0) {
        const int64_t a = std::clamp(lo, o0, o0 + count), b = std::clamp(hi, a, o0 + count);
        if (base < 0 || a >= b) return;
        const T* src = row + column + (a - o0);
        T* dst = yc + base + shift + a * s;
        for (int64_t o = 0; o < b - a; ++o) dst[o * s] += src[o];
      });
      row += width;
    } while (d::next_offset(g, k));
  }
}

}  // namespace ember::runtime
