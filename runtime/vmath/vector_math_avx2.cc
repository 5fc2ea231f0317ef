// vector_math.h compiled for AVX2 + FMA (the build gives *_avx2.cc files those flags).
#include "runtime/vmath/vector_math_loops.h"

namespace ember::runtime::vmath {
namespace {
struct Avx2 {
  static constexpr bool kFma = true;  // compiled with -mfma
};
constexpr Table kTable = Loops<Avx2>::table();
}  // namespace

const Table& avx2_table() { return kTable; }

}  // namespace ember::runtime::vmath
