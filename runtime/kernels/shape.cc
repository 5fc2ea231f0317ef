// Shape family: ops that reshape, reorder, join, cut, pad or create tensors without
// computing on element values. Each entry names the opset since which that form applies;
// the registry picks the highest since-version not above the model's opset.
#include "runtime/kernel.h"
#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/shape_ops.h"

namespace ember::runtime {
namespace {

struct ShapeKernelEntry {
  const char* op_type;
  int since_version;
  RunFunction run;
};

// Ops that move elements go through nibble_aware so packed int4/uint4 tensors work too;
// view ops need no unpacking because they never touch the bytes.
constexpr ShapeKernelEntry kShapeKernels[] = {
    {"Shape", 1, run_shape},  // start/end attributes (opset 15) default to the whole shape
    {"Size", 1, run_size},
    {"Identity", 1, run_identity},
    {"Reshape", 5, run_reshape},  // allowzero (opset 14) defaults to 0
    {"Flatten", 1, run_flatten},
    {"Squeeze", 1, run_squeeze_v1},
    {"Squeeze", 13, run_squeeze_v13},
    {"Unsqueeze", 1, run_unsqueeze_v1},
    {"Unsqueeze", 13, run_unsqueeze_v13},
    {"Constant", 1, run_constant},
    {"ConstantOfShape", 9, run_constant_of_shape},
    {"Range", 11, run_range},
    {"Transpose", 1, nibble_aware<run_transpose>},
    {"Concat", 4, nibble_aware<run_concat>},
    {"Split", 2, nibble_aware<run_split_v2>},
    {"Split", 13, nibble_aware<run_split_v13>},
    {"Split", 18, nibble_aware<run_split_v18>},
    {"Expand", 8, nibble_aware<run_expand>},
    {"Tile", 6, nibble_aware<run_tile>},
    {"Pad", 2, nibble_aware<run_pad_v2>},
    {"Pad", 11, nibble_aware<run_pad_v11>},
    {"Slice", 1, nibble_aware<run_slice_v1>},
    {"Slice", 10, nibble_aware<run_slice_v10>},
};

}  // namespace

void register_shape_kernels(KernelRegistry& registry) {
  for (const auto& entry : kShapeKernels) registry.add_function(entry.op_type, "", entry.since_version, entry.run);
}

}  // namespace ember::runtime
