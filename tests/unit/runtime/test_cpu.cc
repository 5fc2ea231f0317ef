#include <doctest/doctest.h>

#include "runtime/cpu.h"

using namespace ember::runtime;

TEST_CASE("cpu: isa levels are clamped to what the CPU supports") {
  const IsaLevel best = best_isa_level();
  CHECK(isa_supported(best));
  CHECK(isa_supported(IsaLevel::kScalar));
  for (IsaLevel l : {IsaLevel::kScalar, IsaLevel::kAvx2, IsaLevel::kAvxVnni, IsaLevel::kAvx512}) {
    const IsaLevel clamped = clamp_isa_level(l);
    CHECK(static_cast<int>(clamped) <= static_cast<int>(l));
    CHECK(isa_supported(clamped));
    if (isa_supported(l)) CHECK(clamped == l);
  }
  if (isa_supported(IsaLevel::kAvx2)) {
    const CpuFeatures& f = cpu_features();
    CHECK((f.avx2 && f.fma && f.f16c && f.bmi2 && f.os_avx));
  }
  if (isa_supported(IsaLevel::kAvx512)) CHECK(cpu_features().os_avx512);
}

TEST_CASE("cpu: EMBER_ISA values select a clamped level") {
  CHECK(isa_level_for_env(nullptr) == best_isa_level());
  CHECK(isa_level_for_env("bogus") == best_isa_level());
  CHECK(isa_level_for_env("scalar") == IsaLevel::kScalar);
  CHECK(isa_level_for_env("avx512") == clamp_isa_level(IsaLevel::kAvx512));
  CHECK(isa_level_for_env("avx2") == clamp_isa_level(IsaLevel::kAvx2));
  CHECK(isa_supported(isa_level_for_env("avx512")));
  CHECK(isa_supported(isa_level_for_env("avxvnni")));
}

TEST_CASE("cpu: set_isa_level lowers the level in use and never raises it past the CPU") {
  const IsaLevel saved = isa_level();
  CHECK(set_isa_level(IsaLevel::kScalar) == IsaLevel::kScalar);
  CHECK(isa_level() == IsaLevel::kScalar);
  const IsaLevel top = set_isa_level(IsaLevel::kAvx512);
  CHECK(top == best_isa_level());
  CHECK(isa_level() == top);
  set_isa_level(saved);
  CHECK(isa_level() == saved);
}

TEST_CASE("cpu: isa names round-trip") {
  for (IsaLevel l : {IsaLevel::kScalar, IsaLevel::kAvx2, IsaLevel::kAvxVnni, IsaLevel::kAvx512})
    CHECK(parse_isa_name(isa_name(l)) == l);
  CHECK_FALSE(parse_isa_name("AVX2").has_value());
  CHECK_FALSE(parse_isa_name("").has_value());
}
