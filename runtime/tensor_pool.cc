#include "runtime/tensor_pool.h"

#include <cstdlib>

namespace ember::runtime {

struct TensorPool::State {
  std::mutex mutex;
  std::multimap<size_t, void*> free_blocks;  // size class -> block
  size_t reserved = 0, in_use = 0, peak = 0;
  ~State() {
    for (auto& [size, block] : free_blocks) std::free(block);
  }
};

namespace {
// Size classes: multiples of 64 bytes, rounded up to 1/8 steps of the power of two above,
// so buffers of similar sizes share blocks without wasting more than ~12%.
size_t size_class(size_t bytes) {
  size_t size = (bytes + 63) / 64 * 64 + 64;  // + 64 bytes of slack for SIMD tails
  size_t power = 64;
  while (power < size) power <<= 1;
  const size_t step = std::max<size_t>(power / 8, 64);
  return (size + step - 1) / step * step;
}
}  // namespace

TensorPool::TensorPool() : state_(std::make_shared<State>()) {}

Tensor TensorPool::allocate(DType dtype, Shape shape) {
  if (dtype == DType::kString) return Tensor::zeros(dtype, std::move(shape));
  const size_t nbytes = storage_bytes(dtype, shape_numel(shape));
  const size_t cls = size_class(nbytes);
  void* block = nullptr;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    auto it = state_->free_blocks.find(cls);
    if (it != state_->free_blocks.end()) {
      block = it->second;
      state_->free_blocks.erase(it);
    }
    state_->in_use += cls;
    state_->peak = std::max(state_->peak, state_->in_use);
  }
  if (!block) {
    block = std::aligned_alloc(64, cls);
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->reserved += cls;
  }
  std::shared_ptr<State> state = state_;
  std::shared_ptr<void> owner(block, [state, cls](void* p) {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->free_blocks.emplace(cls, p);
    state->in_use -= cls;
  });
  return Tensor::view(dtype, std::move(shape), std::move(owner), block, nbytes);
}

size_t TensorPool::bytes_reserved() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->reserved;
}

size_t TensorPool::peak_bytes_in_use() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->peak;
}

}  // namespace ember::runtime
