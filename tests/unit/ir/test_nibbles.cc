// ir/nibbles.h: the one 4-bit packing helper, against the ONNX INT4 layout written out by hand.
#include <doctest/doctest.h>

#include <vector>

#include "ir/nibbles.h"

namespace ember::nibbles_test {

TEST_CASE("nibbles: low nibble first, sign extension, odd counts, set keeps the neighbour") {
  const std::vector<int32_t> values = {-8, 7, -1, 0, 5};  // odd count: the last high nibble stays 0
  std::vector<uint8_t> packed(3, 0xAA);
  nibbles::pack(values.data(), 5, packed.data());
  CHECK(packed[0] == 0x78);  // -8 -> 0x8 low, 7 -> 0x7 high
  CHECK(packed[1] == 0x0F);  // -1 -> 0xF low, 0 high
  CHECK(packed[2] == 0x05);
  std::vector<int32_t> back(5);
  nibbles::unpack(packed.data(), 5, /*is_signed=*/true, back.data());
  CHECK(back == values);
  nibbles::unpack(packed.data(), 5, /*is_signed=*/false, back.data());
  CHECK(back == std::vector<int32_t>{8, 7, 15, 0, 5});
  nibbles::set(packed.data(), 3, 9);
  CHECK(packed[1] == 0x9F);
  nibbles::set(packed.data(), 2, 0);
  CHECK(packed[1] == 0x90);
  for (uint32_t v = 0; v < 16; ++v) CHECK(nibbles::sign_extend(v) == (v >= 8 ? int32_t(v) - 16 : int32_t(v)));
  CHECK(nibbles::pack_pair(3, -2) == 0xE3);
}

}  // namespace ember::nibbles_test
