#include "calibration/dataset.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "formats/npy.h"
#include "formats/npz.h"
#include "formats/sha256.h"
#include "formats/tensor_pb.h"

namespace ember::calibration {
namespace fs = std::filesystem;

Tensor slice_rows(const Tensor& t, int64_t start, int64_t count) { return slice_along(t, 0, start, count); }

Tensor slice_along(const Tensor& t, int axis, int64_t start, int64_t count) {
  if (axis < 0) return t;  // a value fed whole to every batch
  Shape shape = t.shape();
  const int64_t dim = shape[size_t(axis)];
  int64_t outer = 1;
  for (int i = 0; i < axis; ++i) outer *= shape[size_t(i)];
  const size_t span = dim ? t.nbytes() / static_cast<size_t>(outer * dim) : 0;  // bytes of one index along `axis`, per outer slice
  shape[size_t(axis)] = count;
  Tensor out = Tensor::zeros(t.dtype(), shape);
  const auto* src = static_cast<const uint8_t*>(t.raw());
  auto* dst = static_cast<uint8_t*>(out.raw_mutable());
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(dst + size_t(o * count) * span, src + size_t(o * dim + start) * span, size_t(count) * span);
  return out;
}

int calibration_row_axis(const ir::ValueInfo& input, const std::vector<const ir::ValueInfo*>& model_inputs) {
  if (input.has_shape && input.dims.empty()) return kWholeInEveryBatch;
  if (!input.has_shape || input.dims.empty() || !input.dims[0].param.empty()) return 0;
  std::string batch;  // the symbolic name of the first input's leading dim, e.g. "batch"
  for (const auto* in : model_inputs)
    if (in->has_shape && !in->dims.empty() && !in->dims[0].param.empty()) {
      batch = in->dims[0].param;
      break;
    }
  for (size_t i = 1; i < input.dims.size() && !batch.empty(); ++i)
    if (input.dims[i].param == batch) return static_cast<int>(i);
  // Unnamed dims: a fixed dim 0 while the first input's dim 0 is dynamic puts the batch on this
  // input's first dynamic dim (Silero VAD v5's state [2, ?, 128] beside its input [?, ?]).
  const ir::ValueInfo* first = model_inputs.empty() ? nullptr : model_inputs[0];
  if (batch.empty() && first && first != &input && first->has_shape && !first->dims.empty() && first->dims[0].value < 0 &&
      input.dims[0].value > 0)
    for (size_t i = 1; i < input.dims.size(); ++i)
      if (input.dims[i].value < 0) return static_cast<int>(i);
  return 0;
}

namespace {

std::string expected_text(const ir::ValueInfo& info) {
  std::string s = std::string(dtype_name(info.elem_type)) + " [";
  for (size_t i = 0; i < info.dims.size(); ++i)
    s += (i ? ", " : "") + (info.dims[i].value >= 0 ? std::to_string(info.dims[i].value) : (info.dims[i].param.empty() ? "?" : info.dims[i].param));
  return s + "]";
}

// Checks an array against a model input; the row axis may differ in size.
Status check_array(const std::string& source, const ir::ValueInfo& info, int row_axis, const Tensor& t) {
  const std::string got = std::string(dtype_name(t.dtype())) + " " + shape_to_string(t.shape());
  const std::string what = source + ": calibration input '" + info.name + "' is " + got + ", the model expects " + expected_text(info);
  if (info.elem_type != DType::kUndefined && t.dtype() != info.elem_type) return invalid_input(what);
  if (row_axis == kWholeInEveryBatch) return t.rank() == 0 ? Status::Ok() : invalid_input(what + " (a scalar, the same in every batch)");
  if (t.rank() == 0) return invalid_input(what + " (no row dimension)");
  if (info.has_shape) {
    if (info.dims.size() != t.shape().size()) return invalid_input(what);
    for (size_t i = 0; i < info.dims.size(); ++i)
      if (int(i) != row_axis && info.dims[i].value >= 0 && info.dims[i].value != t.shape()[i]) return invalid_input(what);
  }
  return Status::Ok();
}

Result<std::vector<std::map<std::string, Tensor>>> read_source(const std::string& path,
                                                               const std::vector<const ir::ValueInfo*>& inputs) {
  std::vector<std::map<std::string, Tensor>> groups;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> npz, sets;
    for (const auto& e : fs::directory_iterator(path)) {
      if (e.path().extension() == ".npz") npz.push_back(e.path());
      if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
    }
    if (fs::exists(fs::path(path) / "input_0.pb")) sets.push_back(path);
    std::sort(npz.begin(), npz.end());
    std::sort(sets.begin(), sets.end());
    for (const auto& f : npz) {
      EMBER_ASSIGN_OR_RETURN(auto arrays, formats::read_npz(f.string()));
      groups.push_back(std::move(arrays));
    }
    for (const auto& dir : sets) {
      std::map<std::string, Tensor> arrays;
      for (size_t i = 0; i < inputs.size(); ++i) {
        const fs::path file = dir / ("input_" + std::to_string(i) + ".pb");
        if (!fs::exists(file)) return invalid_input(dir.string() + " has no " + file.filename().string() + " for input '" + inputs[i]->name + "'");
        EMBER_ASSIGN_OR_RETURN(auto named, formats::read_tensor_pb(file.string()));
        arrays[inputs[i]->name] = named.tensor;
      }
      groups.push_back(std::move(arrays));
    }
    if (groups.empty()) return invalid_input(path + " holds no .npz files and no input_N.pb test data");
    return groups;
  }
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".npz") {
    EMBER_ASSIGN_OR_RETURN(auto arrays, formats::read_npz(path));
    groups.push_back(std::move(arrays));
  } else if (ext == ".npy") {
    if (inputs.size() != 1)
      return invalid_input(path + ": a .npy calibration file feeds one input, but the model has " + std::to_string(inputs.size()) +
                           "; use an .npz whose keys are the input names");
    EMBER_ASSIGN_OR_RETURN(Tensor t, formats::read_npy(path));
    groups.push_back({{inputs[0]->name, t}});
  } else if (ext == ".pb") {
    if (inputs.size() != 1) return invalid_input(path + ": a single .pb file feeds one input, but the model has " + std::to_string(inputs.size()));
    EMBER_ASSIGN_OR_RETURN(auto named, formats::read_tensor_pb(path));
    groups.push_back({{inputs[0]->name, named.tensor}});
  } else {
    return invalid_input(path + ": expected a .npy, .npz, .pb file or a directory");
  }
  return groups;
}

}  // namespace

Result<CalibrationSet> CalibrationSet::open(const std::string& path, const std::vector<const ir::ValueInfo*>& inputs,
                                            const CalibrationOptions& options) {
  CalibrationSet set;
  set.source_ = path;
  EMBER_ASSIGN_OR_RETURN(auto groups, read_source(path, inputs));
  int64_t batch = std::max<int64_t>(options.batch, 1);
  std::map<std::string, int> axes;  // the row axis of each input
  for (const auto* in : inputs) {
    const int axis = axes[in->name] = calibration_row_axis(*in, inputs);
    if (axis >= 0 && in->has_shape && in->dims[size_t(axis)].value > 0) batch = std::min(batch, in->dims[size_t(axis)].value);
  }
  set.batch_size_ = batch;
  formats::Sha256 hash;
  int64_t remaining = options.limit > 0 ? options.limit : INT64_MAX;
  for (auto& arrays : groups) {
    Chunk chunk;
    chunk.rows = -1;
    for (const auto* in : inputs) {
      auto it = arrays.find(in->name);
      if (it == arrays.end()) {
        std::string keys;
        for (const auto& [k, v] : arrays) keys += (keys.empty() ? "" : ", ") + k;
        return invalid_input(path + " has no array for the model input '" + in->name + "' (it has: " + keys + ")");
      }
      const int axis = axes.at(in->name);
      EMBER_TRY(check_array(path, *in, axis, it->second));
      chunk.arrays[in->name] = it->second;
      chunk.axes[in->name] = axis;
      if (axis < 0) continue;
      if (chunk.rows >= 0 && it->second.dim(axis) != chunk.rows)
        return invalid_input(path + ": arrays have different row counts (" + std::to_string(chunk.rows) + " and " +
                             std::to_string(it->second.dim(axis)) + " for '" + in->name + "', rows along its dimension " +
                             std::to_string(axis) + ")");
      chunk.rows = it->second.dim(axis);
    }
    if (chunk.rows < 0) return invalid_input(path + ": every model input is a scalar; there are no rows to calibrate on");
    if (auto it = arrays.find("labels"); it != arrays.end() && it->second.rank() >= 1 && it->second.dim(0) == chunk.rows) {
      chunk.labels = it->second;
      set.has_labels_ = true;
    }
    chunk.rows = std::min(chunk.rows, remaining);
    if (chunk.rows <= 0) continue;
    remaining -= chunk.rows;
    for (auto& [name, t] : chunk.arrays) {
      const int axis = chunk.axes.at(name);
      if (axis >= 0 && t.dim(axis) != chunk.rows) t = slice_along(t, axis, 0, chunk.rows);
      hash.update(name);
      hash.update(dtype_name(t.dtype()));
      hash.update(shape_to_string(t.shape()));
      hash.update(t.raw(), t.nbytes());
    }
    if (chunk.labels.defined() && chunk.labels.dim(0) != chunk.rows) chunk.labels = slice_rows(chunk.labels, 0, chunk.rows);
    for (int64_t start = 0; start < chunk.rows; start += batch)
      set.batches_.push_back({set.chunks_.size(), start, std::min(batch, chunk.rows - start)});
    set.rows_ += chunk.rows;
    set.chunks_.push_back(std::move(chunk));
  }
  if (set.rows_ == 0) return invalid_input(path + ": the calibration set is empty");
  set.hash_ = "sha256:" + hash.hex_digest();
  return set;
}

std::map<std::string, Tensor> CalibrationSet::batch(int64_t index) const { return batch(index, 0, batch_rows(index)); }

int64_t CalibrationSet::batch_rows(int64_t index) const { return batches_.at(static_cast<size_t>(index)).count; }

std::map<std::string, Tensor> CalibrationSet::batch(int64_t index, int64_t start, int64_t count) const {
  const BatchRef& ref = batches_.at(static_cast<size_t>(index));
  start = std::clamp<int64_t>(start, 0, ref.count);
  count = std::clamp<int64_t>(count, 0, ref.count - start);
  const Chunk& chunk = chunks_[ref.chunk];
  std::map<std::string, Tensor> feeds;
  for (const auto& [name, t] : chunk.arrays) feeds[name] = slice_along(t, chunk.axes.at(name), ref.start + start, count);
  return feeds;
}

std::vector<int64_t> CalibrationSet::batch_labels(int64_t index) const {
  const BatchRef& ref = batches_.at(static_cast<size_t>(index));
  const Tensor& labels = chunks_[ref.chunk].labels;
  if (!labels.defined()) return {};
  auto all = labels.to_int64s();
  if (!all.ok()) return {};
  return std::vector<int64_t>(all->begin() + ref.start, all->begin() + ref.start + ref.count);
}

CalibrationSet CalibrationSet::rows_subset(int64_t first, int64_t count) const {
  CalibrationSet part;
  part.source_ = source_;
  part.batch_size_ = batch_size_;
  part.has_labels_ = has_labels_;
  int64_t chunk_start = 0;  // the set's row index of the chunk's first row
  for (const Chunk& chunk : chunks_) {
    const int64_t lo = std::max(first, chunk_start), hi = std::min(first + count, chunk_start + chunk.rows);
    chunk_start += chunk.rows;
    if (lo >= hi) continue;
    Chunk piece;
    piece.rows = hi - lo;
    const int64_t offset = lo - (chunk_start - chunk.rows);
    piece.axes = chunk.axes;
    for (const auto& [name, t] : chunk.arrays) piece.arrays[name] = slice_along(t, chunk.axes.at(name), offset, piece.rows);
    if (chunk.labels.defined()) piece.labels = slice_rows(chunk.labels, offset, piece.rows);
    for (int64_t start = 0; start < piece.rows; start += batch_size_)
      part.batches_.push_back({part.chunks_.size(), start, std::min(batch_size_, piece.rows - start)});
    part.rows_ += piece.rows;
    part.chunks_.push_back(std::move(piece));
  }
  formats::Sha256 hash;
  hash.update(hash_ + " rows " + std::to_string(first) + "+" + std::to_string(count));
  part.hash_ = "sha256:" + hash.hex_digest();
  return part;
}

Result<CalibrationSet::Split> CalibrationSet::split_last(int64_t held_back) const {
  if (held_back < 1) return invalid_input("the number of held-back rows must be >= 1, got " + std::to_string(held_back));
  if (rows_ <= held_back)
    return invalid_input(source_ + ": the calibration set has " + std::to_string(rows_) + " rows; holding back the last " +
                         std::to_string(held_back) + " for the fidelity budget leaves none for calibration (give more rows, or "
                         "fewer held-back rows with --holdout-rows)");
  Split split{rows_subset(0, rows_ - held_back), rows_subset(rows_ - held_back, held_back)};
  split.first.held_back_ = std::make_shared<const CalibrationSet>(split.last);
  return split;
}

}  // namespace ember::calibration
