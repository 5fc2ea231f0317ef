// NumPy .npz archives: a zip of .npy files (stored by np.savez, deflated by
// np.savez_compressed). Keys are entry names without ".npy", as np.load reports them.
#pragma once
#include <cstddef>
#include <map>
#include <string>

#include "ir/tensor.h"

namespace ember::formats {

Result<std::map<std::string, Tensor>> read_npz(const std::string& path);
// The archive in memory; `display_name` names it in messages. Members are inflated as a
// stream into their tensors, never beyond the size recorded for them.
Result<std::map<std::string, Tensor>> parse_npz(const void* data, size_t size, const std::string& display_name);

// Entries are stored uncompressed (fast to read, like np.savez); written atomically.
Status write_npz(const std::string& path, const std::map<std::string, Tensor>& tensors);

}  // namespace ember::formats
