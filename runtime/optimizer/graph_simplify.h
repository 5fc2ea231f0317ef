// Load-time simplifications the interpreter applies to its own copy of a graph:
//   * Constant nodes become initializers, so kernels see their values in prepare();
//   * nodes whose inputs are all constant are evaluated once (shape arithmetic, weight transposes);
//   * an If whose condition is constant is replaced by the nodes of the branch it takes.
// Before: Constant(c) -> If(c){then: A, else: B} -> Y      After: A' -> Identity -> Y
#pragma once
#include "ir/model.h"
#include "ir/status.h"
#include "runtime/kernel.h"

namespace ember::runtime {

struct SimplifyStats {
  int constants_folded = 0;
  int ifs_inlined = 0;
};

// Nodes with no inputs other than Constant are never folded (random generators).
Result<SimplifyStats> simplify_for_execution(ir::Model& model, const KernelRegistry& registry);

}  // namespace ember::runtime
