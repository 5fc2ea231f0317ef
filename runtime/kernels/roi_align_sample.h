// RoiAlign's geometry (roi_align.cc, and its backward rule): a region's bins and sample points,
// and the four pixels a point reads with their bilinear weights (hy hx, hy lx, ly hx, ly lx), by
// the ONNX reference.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace ember::runtime {

// One region's bins: the region [x1, y1, x2, y2] scaled and shifted by `offset` (0.5 under
// half_pixel; at least 1 x 1 otherwise), split into ph x pw bins of gh x gw sample points each.
struct RoiBins {
  float x0, y0, bh, bw, count;
  int64_t gh, gw;
  RoiBins(const float* roi, float scale, float offset, bool half_pixel, int64_t ph, int64_t pw, int64_t ratio) {
    x0 = roi[0] * scale - offset, y0 = roi[1] * scale - offset;
    float rw = roi[2] * scale - offset - x0, rh = roi[3] * scale - offset - y0;
    if (!half_pixel) rw = std::max(rw, 1.0f), rh = std::max(rh, 1.0f);
    bh = rh / float(ph), bw = rw / float(pw);
    gh = ratio > 0 ? ratio : int64_t(std::ceil(rh / float(ph)));
    gw = ratio > 0 ? ratio : int64_t(std::ceil(rw / float(pw)));
    count = float(std::max<int64_t>(gh * gw, 1));
  }
  // Sample point (iy, ix) of bin (i, j).
  float y(int64_t i, int64_t iy) const { return y0 + float(i) * bh + (float(iy) + 0.5f) * bh / float(gh); }
  float x(int64_t j, int64_t ix) const { return x0 + float(j) * bw + (float(ix) + 0.5f) * bw / float(gw); }
};

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
