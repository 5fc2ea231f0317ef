// The one place kernels are run from (interpreter, single_op, constant folding): turns an
// allocation the memory limits refused (ir/memory_limits.h), or any other failed allocation,
// into invalid_input naming the node and the size asked, so no kernel checks sizes itself and
// new kernels inherit the check; likewise an input the node lacks (RunContext::input).
// Nothing thrown escapes to the caller.
#pragma once
#include <new>
#include <stdexcept>
#include <string>

#include "ir/memory_limits.h"
#include "runtime/kernel.h"

namespace ember::runtime {

// Calls fn() (returning Status) and maps allocation failures to invalid_input for `where`.
template <class Fn>
Status guard_allocations(const std::string& where, Fn&& fn) {
  try {
    return fn();
  } catch (const AllocationRefused& e) {
    return invalid_input(where + ": " + e.what());
  } catch (const MissingInput& e) {
    return invalid_input(where + ": " + e.what());
  } catch (const std::bad_alloc&) {
    return invalid_input(where + ": out of memory while computing its outputs");
  } catch (const std::length_error&) {
    return invalid_input(where + ": an output is too large to represent");
  }
}

inline Status prepare_kernel(Kernel& kernel, const PrepareContext& ctx) {
  const std::string where = "node '" + ctx.node.name + "' (" + ctx.node.op_type + ")";
  return guard_allocations(where, [&] { return kernel.prepare(ctx).with_context(where); });
}

inline Status run_kernel(Kernel& kernel, RunContext& ctx) {
  try {
    return kernel.run(ctx);
  } catch (...) {  // the rare path: build the node's name only now
    return guard_allocations(ctx.where(), [] () -> Status { throw; });
  }
}

}  // namespace ember::runtime
