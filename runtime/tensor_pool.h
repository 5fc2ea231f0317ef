// TensorPool: reuses buffers by tensor lifetime. A released tensor's storage goes back to a
// free list keyed by its size class, and the next allocation of that class takes it. Storage
// returns to the pool when the last view of it dies (shared_ptr deleter), so views made by
// Reshape/Squeeze keep their bytes alive for exactly as long as they are used.
#pragma once
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/kernel.h"

namespace ember::runtime {

class TensorPool final : public TensorAllocator {
 public:
  TensorPool();
  Tensor allocate(DType dtype, Shape shape) override;
  size_t bytes_reserved() const;  // all storage the pool owns or has handed out
  size_t peak_bytes_in_use() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace ember::runtime
