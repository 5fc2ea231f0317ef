#include "passes/search/allocation.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ember::passes::search {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// f[b] after every item, and the option chosen per item and unit count.
struct Table {
  int64_t units = 0, unit = 1;
  std::vector<double> best;                      // f_n(b), b = 0..units
  std::vector<std::vector<uint16_t>> choice;     // [item][b]
};

Result<Table> solve(const std::vector<std::vector<Option>>& items, int64_t spare, int64_t max_units) {
  Table t;
  t.unit = std::max<int64_t>(1, (spare + max_units - 1) / max_units);
  t.units = spare / t.unit;
  std::vector<double> f(size_t(t.units + 1), 0.0), next;
  for (const auto& options : items) {
    if (options.empty() || options.size() > kMaxOptions)
      return invalid_input("search: an item needs 1 to " + std::to_string(kMaxOptions) + " options");
    int64_t base = options.front().cost;
    for (const auto& o : options) base = std::min(base, o.cost);
    next.assign(f.size(), kInf);
    std::vector<uint16_t> pick(f.size(), 0);
    for (size_t a = 0; a < options.size(); ++a) {
      const int64_t u = (options[a].cost - base + t.unit - 1) / t.unit;
      for (int64_t b = u; b <= t.units; ++b) {
        const double v = f[size_t(b - u)] + options[a].loss;
        if (v < next[size_t(b)]) next[size_t(b)] = v, pick[size_t(b)] = uint16_t(a);
      }
    }
    f.swap(next);
    t.choice.push_back(std::move(pick));
  }
  t.best = std::move(f);
  return t;
}

Allocation trace(const std::vector<std::vector<Option>>& items, const Table& t, int64_t b) {
  Allocation out;
  out.choice.assign(items.size(), 0);
  for (size_t i = items.size(); i-- > 0;) {
    const size_t a = t.choice[i][size_t(b)];
    out.choice[i] = a;
    int64_t base = items[i].front().cost;
    for (const auto& o : items[i]) base = std::min(base, o.cost);
    b -= (items[i][a].cost - base + t.unit - 1) / t.unit;
    out.cost += items[i][a].cost;
    out.loss += items[i][a].loss;
  }
  return out;
}

}  // namespace

int64_t minimum_cost(const std::vector<std::vector<Option>>& items) {
  int64_t sum = 0;
  for (const auto& options : items) {
    int64_t low = options.empty() ? 0 : options.front().cost;
    for (const auto& o : options) low = std::min(low, o.cost);
    sum += low;
  }
  return sum;
}

Result<Allocation> allocate_under_cost(const std::vector<std::vector<Option>>& items, int64_t capacity,
                                       int64_t max_units) {
  const int64_t low = minimum_cost(items);
  if (capacity < low)
    return invalid_input("the target allows " + std::to_string(capacity) + " but the cheapest action of every layer needs " +
                         std::to_string(low));
  EMBER_ASSIGN_OR_RETURN(const Table t, solve(items, capacity - low, max_units));
  return trace(items, t, t.units);
}

Result<Allocation> allocate_smallest(const std::vector<std::vector<Option>>& items, double loss_limit,
                                     int64_t max_units) {
  int64_t high = 0;
  for (const auto& options : items) {
    int64_t top = 0;
    for (const auto& o : options) top = std::max(top, o.cost);
    high += top;
  }
  const int64_t low = minimum_cost(items);
  EMBER_ASSIGN_OR_RETURN(const Table t, solve(items, high - low, max_units));
  for (int64_t b = 0; b <= t.units; ++b)
    if (t.best[size_t(b)] <= loss_limit) return trace(items, t, b);
  return trace(items, t, t.units);  // nothing meets the limit: the least loss
}

}  // namespace ember::passes::search
