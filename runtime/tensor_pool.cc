#include "runtime/tensor_pool.h"

#include <cstdlib>

#include "ir/memory_limits.h"

namespace ember::runtime {

struct TensorPool::State {
  std::mutex mutex;
  std::multimap<size_t, void*> free_blocks;  // size class -> block
  size_t reserved = 0, in_use = 0, peak = 0;
  ~State() {
    for (auto& [size, block] : free_blocks) {
      note_released(size);
      std::free(block);
    }
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
  // Kernels size outputs from model-controlled values: refuse before allocating (the refusal
  // unwinds to kernel_guard.h, which names the node).
  auto checked = checked_storage_bytes(dtype, shape);
  if (!checked.ok()) throw AllocationRefused(checked.status().message());
  const size_t nbytes = static_cast<size_t>(*checked);
  auto what = [&] { return std::string(dtype_name(dtype)) + " tensor " + shape_to_string(shape); };
  if (nbytes > memory_limits().max_tensor_bytes)  // before size_class, which assumes a sane size
    throw AllocationRefused(check_tensor_size(nbytes, what()).message());
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
    Status fits = check_allocation(cls, what());
    if (fits.ok()) block = std::aligned_alloc(64, cls);
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!block) {
      state_->in_use -= cls;
      throw AllocationRefused(fits.ok() ? "cannot allocate " + format_bytes(cls) : fits.message());
    }
    state_->reserved += cls;
    note_allocated(cls);
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
