// vector_math.h: the x86-64 baseline build and the run-time choice of table.
#include "runtime/vmath/vector_math.h"

#include "runtime/cpu.h"
#include "runtime/vmath/vector_math_loops.h"

namespace ember::runtime::vmath {
namespace {
struct Baseline {
  static constexpr bool kFma = false;
};
constexpr Table kTable = Loops<Baseline>::table();

const Table& active() {
  const IsaLevel level = isa_level();
  return level >= IsaLevel::kAvx512 ? avx512_table() : level >= IsaLevel::kAvx2 ? avx2_table() : kTable;
}
}  // namespace

const Table& baseline_table() { return kTable; }

void exp_shifted(const float* x, float* y, int64_t n, float shift) { active().exp_shifted(x, y, n, shift); }
void tanh(const float* x, float* y, int64_t n) { active().tanh(x, y, n); }
void erf(const float* x, float* y, int64_t n) { active().erf(x, y, n); }
void sigmoid(const float* x, float* y, int64_t n) { active().sigmoid(x, y, n); }
void gelu_erf(const float* x, float* y, int64_t n) { active().gelu_erf(x, y, n); }
void gelu_tanh(const float* x, float* y, int64_t n) { active().gelu_tanh(x, y, n); }
float max(const float* x, int64_t n) { return active().max(x, n); }
double sum(const float* x, int64_t n) { return active().sum(x, n); }
void softmax(const float* x, float* y, int64_t n) { active().softmax(x, y, n); }
double squared_deviations(const float* x, int64_t n, float center) { return active().squared_deviations(x, n, center); }
void normalize_affine(const float* x, int64_t n, float mean, float inv, const float* s, const float* b, float* y) {
  active().normalize_affine(x, n, mean, inv, s, b, y);
}
int64_t extent_above(const float* x, int64_t n, float threshold) { return active().extent_above(x, n, threshold); }
void range_with_zero(const float* x, int64_t n, float* lo, float* hi) { active().range_with_zero(x, n, lo, hi); }
float abs_max(const float* x, int64_t n) { return active().abs_max(x, n); }
void quantize_u8(const float* x, int64_t n, float scale, int32_t zero_point, int32_t lo, int32_t hi, int32_t offset,
                 uint8_t* y) {
  active().quantize_u8(x, n, scale, zero_point, lo, hi, offset, y);
}

}  // namespace ember::runtime::vmath
