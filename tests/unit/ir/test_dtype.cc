#include <doctest/doctest.h>

#include <cmath>

#include "ir/dtype.h"
#include "ir/tensor.h"

using namespace ember;

TEST_CASE("dtype traits cover the ONNX ids, including int4") {
  CHECK(traits(DType::kI4).bits == 4);
  CHECK(traits(DType::kU4).bits == 4);
  CHECK(find_dtype_traits(22)->dtype == DType::kI4);
  CHECK(find_dtype_traits(21)->dtype == DType::kU4);
  CHECK(find_dtype_traits(17) == nullptr);  // float8 is not modelled
  CHECK(storage_bytes(DType::kI4, 3) == 2);
  CHECK(storage_bytes(DType::kF32, 3) == 12);
  CHECK(dtype_from_name("bf16") == DType::kBF16);
}

TEST_CASE("half conversions round to nearest even and keep specials") {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f})
    CHECK(half_to_float(float_to_half(f)) == f);
  CHECK(std::isinf(half_to_float(float_to_half(1e6f))));
  CHECK(std::isnan(half_to_float(float_to_half(NAN))));
  CHECK(float_to_half(1.0f + 1.0f / 4096) == float_to_half(1.0f));  // halfway rounds to even
  CHECK(bfloat16_to_float(float_to_bfloat16(1.5f)) == 1.5f);
}

TEST_CASE("tensor views share bytes, int4 unpacks signed nibbles") {
  Tensor t = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  Tensor r = t.reshaped({4});
  CHECK(r.raw() == t.raw());
  CHECK(r.numel() == 4);
  Tensor q = Tensor::zeros(DType::kI4, {3});
  q.mutable_data<uint8_t>()[0] = 0xF7;  // elements 7, -1
  q.mutable_data<uint8_t>()[1] = 0x08;  // element -8
  auto f = q.to_floats();
  REQUIRE(f.ok());
  CHECK((*f)[0] == 7);
  CHECK((*f)[1] == -1);
  CHECK((*f)[2] == -8);
  CHECK(!Tensor::strings({1}, {"a"}).to_floats().ok());
}
