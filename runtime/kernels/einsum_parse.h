// The subscripts of an Einsum node, shared by the forward kernel (misc_math.cc) and its
// backward rule (runtime/grad/grad_einsum.cc).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/status.h"
#include "runtime/kernel.h"

namespace ember::runtime {

struct EinsumSubscripts {
  std::vector<std::string> terms;  // per operand, "..." expanded to capital letters
  std::string out;                 // output letters
  std::map<char, int64_t> dims;    // size per letter (broadcast dims of 1 give way)
};

// Parses an explicit ("ij,jk->ik") or implicit ("ij,jk": letters seen once, sorted)
// equation; "..." becomes the capital letters A, B, ... (ellipsis dims, right aligned).
Result<EinsumSubscripts> parse_einsum(const RunContext& ctx);

}  // namespace ember::runtime
