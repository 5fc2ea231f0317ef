#include "deploy/batching.h"

#include <cstring>
#include <numeric>

namespace ember::deploy {

std::string batch_signature(const Feeds& feeds) {
  std::string s;
  for (const auto& [name, t] : feeds) {
    s += name + ":" + std::string(dtype_name(t.dtype())) + "[";
    for (int d = 1; d < t.rank(); ++d) s += std::to_string(t.dim(d)) + ",";
    s += t.rank() == 0 ? "scalar" : "";
    s += "];";
  }
  return s;
}

int64_t batch_rows(const Feeds& feeds) {
  if (feeds.empty() || feeds.begin()->second.rank() == 0) return 0;
  return feeds.begin()->second.dim(0);
}

Result<Feeds> concat_batch(const std::vector<const Feeds*>& requests) {
  if (requests.empty()) return invalid_input("an empty batch");
  Feeds out;
  for (const auto& [name, first] : *requests[0]) {
    if (first.rank() == 0 || traits(first.dtype()).bits % 8 != 0) return invalid_input("input " + name + " cannot be batched");
    Shape shape = first.shape();
    shape[0] = 0;
    for (const Feeds* r : requests) {
      auto it = r->find(name);
      if (it == r->end() || it->second.dtype() != first.dtype() || it->second.rank() != first.rank())
        return invalid_input("input " + name + " differs between batched requests");
      shape[0] += it->second.dim(0);
    }
    Tensor t = Tensor::zeros(first.dtype(), shape);
    auto* dst = static_cast<uint8_t*>(t.raw_mutable());
    for (const Feeds* r : requests) {
      const Tensor& part = r->at(name);
      std::memcpy(dst, part.raw(), part.nbytes());
      dst += part.nbytes();
    }
    out[name] = std::move(t);
  }
  return out;
}

Result<std::vector<std::vector<Tensor>>> split_batch(const std::vector<Tensor>& outputs, const std::vector<int64_t>& rows) {
  const int64_t total = std::accumulate(rows.begin(), rows.end(), int64_t{0});
  if (total <= 0) return invalid_input("an empty batch");
  std::vector<std::vector<Tensor>> per_request(rows.size());
  for (const Tensor& out : outputs) {
    if (out.rank() == 0 || out.dim(0) != total || traits(out.dtype()).bits % 8 != 0)
      return invalid_input("an output's first dimension is " + (out.rank() ? std::to_string(out.dim(0)) : std::string("absent")) +
                           ", not the batch's " + std::to_string(total) + " rows");
    const size_t row_bytes = out.nbytes() / static_cast<size_t>(total);
    const auto* src = static_cast<const uint8_t*>(out.raw());
    for (size_t i = 0; i < rows.size(); ++i) {
      Shape shape = out.shape();
      shape[0] = rows[i];
      Tensor piece = Tensor::zeros(out.dtype(), shape);
      std::memcpy(piece.raw_mutable(), src, row_bytes * static_cast<size_t>(rows[i]));
      src += row_bytes * static_cast<size_t>(rows[i]);
      per_request[i].push_back(std::move(piece));
    }
  }
  return per_request;
}

}  // namespace ember::deploy
