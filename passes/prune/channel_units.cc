#include "passes/prune/channel_units.h"

namespace ember::passes::prune {

std::vector<int64_t> ChannelIds::fresh(int64_t n, bool pinned) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < n; ++i) {
    out.push_back(static_cast<int64_t>(parent_.size()));
    parent_.push_back(out.back());
    pinned_.push_back(pinned);
  }
  return out;
}

int64_t ChannelIds::root(int64_t id) const {
  while (parent_[size_t(id)] != id) {
    parent_[size_t(id)] = parent_[size_t(parent_[size_t(id)])];  // path halving
    id = parent_[size_t(id)];
  }
  return id;
}

void ChannelIds::merge(int64_t a, int64_t b) {
  a = root(a), b = root(b);
  if (a == b) return;
  if (b < a) std::swap(a, b);  // the smaller id stays the root: deterministic
  parent_[size_t(b)] = a;
  pinned_[size_t(a)] = pinned_[size_t(a)] || pinned_[size_t(b)];
}

int64_t ChannelIds::resolve(const std::map<std::string, std::vector<int64_t>>& ids_of,
                            std::map<std::string, std::vector<int64_t>>& units) const {
  std::map<int64_t, int64_t> unit_of_root;  // numbered in the order of the roots' ids
  for (const auto& [value, ids] : ids_of)
    for (int64_t id : ids)
      if (!pinned_[size_t(root(id))]) unit_of_root.emplace(root(id), 0);
  int64_t next = 0;
  for (auto& [r, u] : unit_of_root) u = next++;
  units.clear();
  for (const auto& [value, ids] : ids_of) {
    std::vector<int64_t>& u = units[value];
    for (int64_t id : ids) {
      const int64_t r = root(id);
      u.push_back(pinned_[size_t(r)] ? -1 : unit_of_root.at(r));
    }
  }
  return next;
}

std::vector<int64_t> kept_positions(const std::vector<int64_t>& units, const std::vector<bool>& removed_unit) {
  std::vector<int64_t> out;
  for (size_t p = 0; p < units.size(); ++p)
    if (units[p] < 0 || !removed_unit[size_t(units[p])]) out.push_back(static_cast<int64_t>(p));
  return out;
}

std::vector<int64_t> removed_positions(const std::vector<int64_t>& units, const std::vector<bool>& removed_unit) {
  std::vector<int64_t> out;
  for (size_t p = 0; p < units.size(); ++p)
    if (units[p] >= 0 && removed_unit[size_t(units[p])]) out.push_back(static_cast<int64_t>(p));
  return out;
}

}  // namespace ember::passes::prune
