// Batch roles: which values of a graph carry the batch, and how, as a proof that row b of a
// batch-B run equals a batch-1 run on request b (what free-batch needs before it rewrites).
//
// Every value gets one role, found in node order from the graph inputs (dim 0 = the batch):
//   kFree       the same value at batch 1 and at batch B (weights, masks from the sequence
//               length, arange(seq), ...): it depends on no batch row and not on B.
//   kRows       dim 0 is B*k where k is its dim 0 at batch 1, and the b-th block of k slices
//               equals the whole value of a batch-1 run on request b. `unit` when k = 1.
//   kCount      an integer holding B (Shape(x)[0:1] and its squeezes); 1 at batch 1.
//   kShape      a 1-D shape vector whose element 0 is B and whose others are batch-free.
//   kRowIndex   dim 0 is B and element [b, ...] holds b (Range(0, B, 1), unsqueezed, expanded).
//   kDimOnly    dim 0 is B, other dims batch-free, values not vouched for (only Shape reads it).
//   kGatherIndex GatherND indices whose last axis holds (b, rest), rest as a batch-1 run's.
// A node reading a non-free value gets its outputs' roles from a rule of its op (elementwise,
// row-wise linear layers, reshapes, transposes and slices off axis 0, ...). A rule that cannot
// show its outputs keep rows apart refuses, naming the node: a value mixing rows (a softmax
// over axis 0, a DynamicQuantizeLinear's whole-tensor scale) must not be batched.
//
// The fixes the proof asks for are listed, not applied (free_batch.cc applies them):
//   - a Reshape of a kRows value to a constant shape [1, rest...]: its 1 is the batch;
//   - a GatherND of a kFree value of dim 0 = 1 with kGatherIndex indices: the rows index it with
//     b, so its data must be broadcast to B rows first.
// Ranks and the static dims of batch-free values come from the initializers and the exporter's
// value_info (shapes at batch 1); where a rule needs one that is missing, it refuses.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"

namespace ember::passes {

enum class BatchRole { kFree, kRows, kCount, kShape, kRowIndex, kDimOnly, kGatherIndex };

struct ValueRole {
  BatchRole role = BatchRole::kFree;
  bool unit = false;  // kRows only: dim 0 is exactly the batch
};

struct BatchFix {
  enum Kind { kReshapeBatchOne, kBroadcastGatherData } kind;
  size_t node;  // index in graph.nodes
};

struct BatchAnalysis {
  std::map<std::string, ValueRole> roles;  // every value read or written by the main graph
  std::vector<BatchFix> fixes;
  std::vector<std::string> batch_inputs;   // the feed inputs, each with the batch as dim 0
  std::string batch_param;                 // the symbolic name of dim 0 ("batch")
};

// The roles of the main graph's values and the fixes; an error names the first node, input or
// output whose batch handling cannot be proven.
Result<BatchAnalysis> analyze_batch_roles(const ir::Graph& graph);

}  // namespace ember::passes
