// The per-tensor scheme table: reads a (quantized) model and says, for every weight that a
// linear layer, convolution or embedding reads, how it is stored. It is derived from the
// graph itself (DequantizeLinear, MatMulNBits, MatMulInteger nodes), so the manifest and report
// describe what was written, whatever pass wrote it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/model.h"

namespace ember::passes {

struct TensorScheme {
  std::string weight;         // the stored initializer (quantized data or float weight)
  std::string layer_node;     // the node that consumes it (MatMul, Gemm, Conv, Gather, MatMulNBits...)
  std::string layer_op;
  std::string layer_output;   // the consumer's first output, to compare against the FP32 model
  std::string scheme;         // "fp32", "int8 per-channel", "int4 block 32 sym", ...
  std::string dtype;          // storage dtype of the weight data
  int bits = 32;
  int64_t block = 0;          // 0: per tensor or per channel
  int64_t axis = -1;
  bool symmetric = true;
  int64_t parameters = 0;
  size_t bytes = 0;           // data + scales + zero points
  float scale_min = 0, scale_max = 0, scale_mean = 0;
};

std::vector<TensorScheme> describe_weight_schemes(const ir::Model& model);

}  // namespace ember::passes
