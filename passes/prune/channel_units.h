// Which removable unit each channel of a channel group's values is (conv_groups.h), so that
// channels joined by a Concat are pruned together with the producers they come from.
// Before: a [N, 3, H, W] and b [N, 5, H, W] -> Concat(axis 1) -> c [N, 8, H, W]
// Every channel the tracer meets gets an id; a Concat's output channels are its inputs' ids in
// order (input i at offset o_i = sum of the channels before it), a channel-wise op's output and
// its channel operands share ids position by position, and ids that meet are merged
// (union-find), so a residual Add of a Concat and another value ties channel o_i + c to the
// other operand's channel o_i + c. Each merged class is one unit: removing unit u removes every
// position of every value whose id is in u (a's c, and c's o_a + c). An id can be pinned (a
// Concat input Ember cannot shrink: a graph input, a constant, an op it cannot trace); a class
// holding a pinned id has no unit (-1) and its positions always stay.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ember::passes::prune {

class ChannelIds {
 public:
  // `n` new ids, pinned or not.
  std::vector<int64_t> fresh(int64_t n, bool pinned);
  void merge(int64_t a, int64_t b);
  // The unit of every position of every value (-1: pinned), units numbered in the order of their
  // classes' smallest ids (the seed Conv's rows first); returns the unit count.
  int64_t resolve(const std::map<std::string, std::vector<int64_t>>& ids_of,
                  std::map<std::string, std::vector<int64_t>>& units) const;

 private:
  int64_t root(int64_t id) const;
  mutable std::vector<int64_t> parent_;
  std::vector<bool> pinned_;
};

// Positions of `units` (one value's unit per channel) that stay when the units flagged in
// `removed_unit` go; pinned positions (-1) always stay.
std::vector<int64_t> kept_positions(const std::vector<int64_t>& units, const std::vector<bool>& removed_unit);
std::vector<int64_t> removed_positions(const std::vector<int64_t>& units, const std::vector<bool>& removed_unit);

}  // namespace ember::passes::prune
