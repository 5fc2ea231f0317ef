// vector_math.h compiled for AVX-512 (the build gives *_avx512.cc files those flags): the
// same formulas on 16 lanes; FMA contraction as in the AVX2 build, so the two agree bit for bit
// except where GCC contracts a different multiply-add.
#include "runtime/vmath/vector_math_loops.h"

namespace ember::runtime::vmath {
namespace {
struct Avx512 {
  static constexpr bool kFma = true;  // compiled with -mfma
};
constexpr Table kTable = Loops<Avx512>::table();
}  // namespace

const Table& avx512_table() { return kTable; }

}  // namespace ember::runtime::vmath
