// The search's allocator (passes/search/allocation.h): never over the hard limit, optimal on
// small cases against brute force, and the cheapest allocation within a loss limit.
#include <doctest/doctest.h>

#include <random>

#include "passes/search/allocation.h"

namespace ember::allocation_test {
namespace {

using passes::search::Allocation;
using passes::search::Option;
using Items = std::vector<std::vector<Option>>;

// Every combination, the least loss with cost <= capacity (nullopt when none fits).
std::optional<double> brute_force_min_loss(const Items& items, int64_t capacity) {
  std::optional<double> best;
  std::vector<size_t> pick(items.size(), 0);
  while (true) {
    int64_t cost = 0;
    double loss = 0;
    for (size_t i = 0; i < items.size(); ++i) cost += items[i][pick[i]].cost, loss += items[i][pick[i]].loss;
    if (cost <= capacity && (!best || loss < *best)) best = loss;
    size_t i = 0;
    while (i < items.size() && ++pick[i] == items[i].size()) pick[i++] = 0;
    if (i == items.size()) return best;
  }
}

// Layers with FP32 (expensive, no loss) and cheaper options with more loss, random.
Items random_items(std::mt19937& rng, size_t n, size_t options) {
  std::uniform_int_distribution<int64_t> cost(1, 40);
  std::uniform_real_distribution<double> loss(0.0, 1.0);
  Items items(n);
  for (auto& item : items) {
    item.push_back({100, 0.0});
    for (size_t a = 1; a < options; ++a) item.push_back({cost(rng), loss(rng)});
  }
  return items;
}

}  // namespace

TEST_CASE("allocation: optimal against brute force on small cases, never over the capacity") {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 60; ++trial) {
    const Items items = random_items(rng, 2 + size_t(trial % 4), 2 + size_t(trial % 3));
    const int64_t low = passes::search::minimum_cost(items);
    for (int64_t capacity : {low, low + 17, low + 63, int64_t(100 * items.size())}) {
      auto got = passes::search::allocate_under_cost(items, capacity);
      REQUIRE(got.ok());
      CHECK(got->cost <= capacity);
      const auto best = brute_force_min_loss(items, capacity);
      REQUIRE(best.has_value());
      CHECK(got->loss == doctest::Approx(*best));
      double recomputed = 0;
      int64_t cost = 0;
      for (size_t i = 0; i < items.size(); ++i) recomputed += items[i][got->choice[i]].loss, cost += items[i][got->choice[i]].cost;
      CHECK(cost == got->cost);
      CHECK(recomputed == doctest::Approx(got->loss));
    }
  }
}

TEST_CASE("allocation: coarse units round costs up, so large problems stay under the capacity") {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int64_t> cost(1000, 5000000);
  std::uniform_real_distribution<double> loss(0.0, 1.0);
  Items items(120);
  for (auto& item : items) {
    const int64_t fp32 = cost(rng) * 4;
    item = {{fp32, 0.0}, {fp32 / 4, loss(rng) * 0.01}, {fp32 / 8 + 100, loss(rng)}, {fp32 / 9 + 50, 1 + loss(rng)}};
  }
  const int64_t low = passes::search::minimum_cost(items);
  for (double f : {1.0, 1.01, 1.3, 2.0, 3.5}) {
    const int64_t capacity = int64_t(double(low) * f);
    auto got = passes::search::allocate_under_cost(items, capacity, 512);
    REQUIRE(got.ok());
    CHECK(got->cost <= capacity);
  }
  auto refused = passes::search::allocate_under_cost(items, low - 1);
  CHECK(refused.status().code() == StatusCode::kInvalidInput);
}

TEST_CASE("allocation: the cheapest allocation within a loss limit") {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 40; ++trial) {
    const Items items = random_items(rng, 3, 3);
    const double limit = 0.3 * (trial % 5);
    auto got = passes::search::allocate_smallest(items, limit);
    REQUIRE(got.ok());
    CHECK(got->loss <= limit + 1e-12);
    // No cheaper combination fits the limit.
    std::vector<size_t> pick(items.size(), 0);
    while (true) {
      int64_t cost = 0;
      double loss = 0;
      for (size_t i = 0; i < items.size(); ++i) cost += items[i][pick[i]].cost, loss += items[i][pick[i]].loss;
      if (loss <= limit) CHECK(cost >= got->cost);
      size_t i = 0;
      while (i < items.size() && ++pick[i] == items[i].size()) pick[i++] = 0;
      if (i == items.size()) break;
    }
  }
}

}  // namespace ember::allocation_test
