// Col2Im's geometry (opset 18), shared by the kernel (opset18_ops.cc) and its backward rule:
// input [N, C * prod(block), L] holds, for each channel, kernel position k and block l, the
// pixel at  block_pos(l) * strides - pads_begin + kernel_pos(k) * dilations  of the image (when
// inside it); the kernel adds each column value to its pixel, the backward reads it back.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"

namespace ember::runtime {

struct Col2ImPlan {
  std::vector<int64_t> image, block, strides, dil, pads, out_dims;
  int64_t kernel = 1, plane = 1, blocks = 1;  // prod(block), prod(image), prod(out_dims)

  // f(column, pixel) for every (kernel position, block) of one channel whose pixel lies inside
  // the image: column = k * blocks + l, pixel = the row-major offset in the image.
  template <class F>
  void for_each_tap(F f) const {
    const size_t r = image.size();
    std::vector<int64_t> kpos(r), bpos(r);
    for (int64_t k = 0; k < kernel; ++k)
      for (int64_t l = 0; l < blocks; ++l) {
        int64_t kr = k, lr = l, offset = 0;
        bool inside = true;
        for (size_t d = r; d-- > 0;) {
          kpos[d] = kr % block[d], kr /= block[d];
          bpos[d] = lr % out_dims[d], lr /= out_dims[d];
        }
        for (size_t d = 0; d < r; ++d) {
          const int64_t at = bpos[d] * strides[d] - pads[d] + kpos[d] * dil[d];
          inside = inside && at >= 0 && at < image[d];
          offset = offset * image[d] + at;
        }
        if (inside) f(k * blocks + l, offset);
      }
  }
};

// The plan of `node` for input shape [N, columns, blocks_given]; invalid_input naming `where`
// when the shapes do not agree.
inline Result<Col2ImPlan> plan_col2im(const ir::Node& node, std::vector<int64_t> image, std::vector<int64_t> block,
                                      int64_t columns, int64_t blocks_given, const std::string& where) {
  Col2ImPlan p;
  const size_t r = image.size();
  if (block.size() != r || r == 0) return invalid_input(where + ": the image and block shapes must have one rank");
  p.image = std::move(image);
  p.block = std::move(block);
  p.strides = node.attr_ints("strides");
  p.dil = node.attr_ints("dilations");
  p.pads = node.attr_ints("pads");
  p.strides.resize(r, 1);
  p.dil.resize(r, 1);
  p.pads.resize(2 * r, 0);
  p.out_dims.resize(r);
  for (size_t d = 0; d < r; ++d)
    if (p.strides[d] < 1 || p.dil[d] < 1 || p.block[d] < 1 || p.image[d] < 1)
      return invalid_input(where + ": strides, dilations, image and block sizes must be positive");
  for (size_t d = 0; d < r; ++d) {
    p.kernel *= p.block[d];
    p.plane *= p.image[d];
    p.out_dims[d] = (p.image[d] + p.pads[d] + p.pads[d + r] - p.dil[d] * (p.block[d] - 1) - 1) / p.strides[d] + 1;
    p.blocks *= p.out_dims[d];
  }
  if (p.kernel <= 0 || columns % p.kernel || blocks_given != p.blocks)
    return invalid_input(where + ": the column count does not match the image and block shapes");
  return p;
}

}  // namespace ember::runtime
