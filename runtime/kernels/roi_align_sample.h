// One RoiAlign sample point (roi_align.cc, and its backward rule): the four pixels it reads
// and their bilinear weights (hy hx, hy lx, ly hx, ly lx), by the ONNX reference.
#pragma once
#include <algorithm>
#include <cstdint>

namespace ember::runtime {

// False when the point lies more than one pixel outside the h x w map (it reads nothing).
inline bool roi_sample_corners(float yy, float xx, int64_t h, int64_t w, int64_t at[4], float wt[4]) {
  if (yy < -1.0f || yy > float(h) || xx < -1.0f || xx > float(w)) return false;
  yy = std::max(yy, 0.0f);
  xx = std::max(xx, 0.0f);
  int64_t ylo = int64_t(yy), xlo = int64_t(xx), yhi, xhi;
  if (ylo >= h - 1) yhi = ylo = h - 1, yy = float(ylo);
  else yhi = ylo + 1;
  if (xlo >= w - 1) xhi = xlo = w - 1, xx = float(xlo);
  else xhi = xlo + 1;
  const float ly = yy - float(ylo), lx = xx - float(xlo), hy = 1 - ly, hx = 1 - lx;
  at[0] = ylo * w + xlo, at[1] = ylo * w + xhi, at[2] = yhi * w + xlo, at[3] = yhi * w + xhi;
  wt[0] = hy * hx, wt[1] = hy * lx, wt[2] = ly * hx, wt[3] = ly * lx;
  return true;
}

}  // namespace ember::runtime
