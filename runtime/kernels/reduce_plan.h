// Iteration for reductions (Reduce*, MeanVarianceNormalization). A reduction is a broadcast
// run backwards: every input element maps to the output element at the same index with the
// reduced dims zeroed, so the broadcast plan over the input shape, with the keepdims output
// shape as its one "input", yields runs of input elements and where they accumulate. The
// output stride of a run is 0 (the run folds into one accumulator) or 1 (elementwise).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ir/status.h"
#include "ir/tensor.h"
#include "runtime/kernel.h"
#include "runtime/kernels/broadcast_loop.h"

namespace ember::runtime {

struct ReducePlan {
  Shape kept_shape;            // input shape with reduced dims set to 1 (keepdims output)
  Shape squeezed_shape;        // output shape without the reduced dims
  BroadcastPlan<1> runs;       // over the input; strides point into the output
  int64_t out_numel = 0;
  int64_t reduce_count = 1;    // input elements per output element
  int64_t parallel_rows = 1;   // leading coalesced dim when it is kept, else 1
};

// Normalises `axes` (negative allowed, duplicates rejected); empty axes mean all dims.
Result<ReducePlan> plan_reduce(const Shape& shape, const std::vector<int64_t>& axes, const std::string& where);

// Calls fn(out_offset, in_offset, length, out_stride) for every run of the input. Runs
// under different leading kept rows go to different threads (they write disjoint outputs).
template <class Fn>
void for_each_reduce_run(const ReducePlan& plan, int64_t grain, Fn&& fn) {
  const int64_t total = plan.runs.numel;
  if (total == 0) return;
  const int64_t row = total / plan.parallel_rows;
  parallel_for(plan.parallel_rows, rows_per_chunk(row, grain), [&](int64_t begin, int64_t end) {
    for_each_run(plan.runs, begin * row, end * row,
                 [&](const std::array<int64_t, 1>& out, int64_t in, int64_t len, const std::array<int64_t, 1>& stride) {
                   fn(out[0], in, len, stride[0]);
                 });
  });
}

// Folds map(p[i]) for i in [0, len) into a, in four independent chains so the adds
// overlap in the pipeline (a single chain waits for each add's latency).
template <class T, class Acc, class Map, class Combine>
Acc fold_run(Acc a, const T* p, int64_t len, const Map& map, const Combine& combine) {
  int64_t i = 0;
  if (len >= 8) {
    Acc c1 = map(p[1]), c2 = map(p[2]), c3 = map(p[3]);
    a = combine(a, map(p[0]));
    for (i = 4; i + 4 <= len; i += 4) {
      a = combine(a, map(p[i]));
      c1 = combine(c1, map(p[i + 1]));
      c2 = combine(c2, map(p[i + 2]));
      c3 = combine(c3, map(p[i + 3]));
    }
    a = combine(combine(a, c1), combine(c2, c3));
  }
  for (; i < len; ++i) a = combine(a, map(p[i]));
  return a;
}

// acc[o] = combine(acc[o], map(x, o)) over every input element x and its output o.
template <class T, class Acc, class Map, class Combine>
void accumulate(const ReducePlan& plan, const T* x, Acc* acc, const Map& map, const Combine& combine) {
  for_each_reduce_run(plan, kElementwiseGrain, [&](int64_t o, int64_t in, int64_t len, int64_t stride) {
    const T* p = x + in;
    if (stride == 0) {
      acc[o] = fold_run(acc[o], p, len, [&](T v) { return map(v, o); }, combine);
    } else {
      blocked_loop(0, len, [&](int64_t i) { acc[o + i] = combine(acc[o + i], map(p[i], o + i)); });
    }
  });
}

}  // namespace ember::runtime
