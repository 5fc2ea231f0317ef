// Indexing family: ops that pick or place elements by index tensors. Each entry names the
// opset since which that form applies (see shape.cc for how the registry chooses).
#include "runtime/kernel.h"
#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/shape_ops.h"

namespace ember::runtime {
namespace {

struct IndexingKernelEntry {
  const char* op_type;
  int since_version;
  RunFunction run;
};

constexpr IndexingKernelEntry kIndexingKernels[] = {
    {"Gather", 1, nibble_aware<run_gather>},  // negative indices are valid from opset 11 on
    {"GatherElements", 11, nibble_aware<run_gather_elements>},
    {"GatherND", 11, nibble_aware<run_gather_nd>},  // batch_dims (opset 12) defaults to 0
    {"Scatter", 9, run_scatter_elements},           // deprecated alias of ScatterElements
    {"ScatterElements", 11, run_scatter_elements},  // reduction: add/mul (16), max/min (18)
    {"ScatterND", 11, run_scatter_nd},              // reduction: add/mul (16), max/min (18)
    {"OneHot", 9, run_one_hot},
    {"Trilu", 14, nibble_aware<run_trilu>},
    {"NonZero", 9, nibble_aware<run_non_zero>},
};

}  // namespace

void register_indexing_kernels(KernelRegistry& registry) {
  for (const auto& entry : kIndexingKernels)
    registry.add_function(entry.op_type, "", entry.since_version, entry.run);
}

}  // namespace ember::runtime
