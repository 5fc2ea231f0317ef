// CalibrationSet: model feeds read from files, served in batches.
// Accepted sources:
//   FILE.npy       one array, for a model with one input; rows along dim 0
//   FILE.npz       arrays named after the model's inputs (+ optional "labels")
//   DIR/           ONNX test-data protobufs (DIR/input_N.pb, or DIR/test_data_set_*/input_N.pb),
//                  one batch per set, inputs in model order; or a directory of .npz files
// Rows lie along dim 0 of each input, except: an input whose batch dimension is elsewhere
// (a recurrent state [layers, batch, hidden] whose dim 1 has the symbolic name of the first
// input's dim 0, e.g. "batch"; with unnamed dims, the first dynamic dim of an input whose dim 0
// is fixed while the first input's is dynamic) has its rows there; a scalar model input (a
// sample rate) takes a scalar array, fed whole to every batch.
// Batches never cross files. A model input whose batch dim is fixed (e.g. 1 in exports
// specialised to batch 1) caps the batch size. Every set has a stable content hash.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"

namespace ember::calibration {

struct CalibrationOptions {
  // Rows per batch, capped by a fixed leading dim of the model inputs. 1 by default: exports
  // often specialise internal shapes (value_info, GatherND indices) to batch 1.
  int64_t batch = 1;
  int64_t limit = 0;  // rows to use; 0 = all
};

class CalibrationSet {
 public:
  static Result<CalibrationSet> open(const std::string& path, const std::vector<const ir::ValueInfo*>& model_inputs,
                                     const CalibrationOptions& options = {});

  int64_t num_rows() const { return rows_; }
  int64_t num_batches() const { return static_cast<int64_t>(batches_.size()); }
  int64_t batch_size() const { return batch_size_; }  // rows per batch (the last batch of a file may have fewer)
  // Feeds for one batch (copies of the rows; the set stays untouched).
  std::map<std::string, Tensor> batch(int64_t index) const;
  // Rows [start, start + count) of one batch (clamped to it), each input along its row axis.
  std::map<std::string, Tensor> batch(int64_t index, int64_t start, int64_t count) const;
  int64_t batch_rows(int64_t index) const;
  // Labels of the rows of a batch, when the set has a "labels" array.
  bool has_labels() const { return has_labels_; }
  std::vector<int64_t> batch_labels(int64_t index) const;
  const std::string& content_hash() const { return hash_; }
  const std::string& source() const { return source_; }

  // The set split in two: `first` = every row but the last `held_back` (for calibration
  // statistics), `last` = the last `held_back` rows (for label-free fidelity). Batches keep the
  // batch size and never cross files; each part's content hash is that of the whole set and its row range. invalid_input when
  // held_back < 1 or the set has fewer than held_back + 1 rows. `first` keeps a reference to
  // `last` (held_back()), so whoever calibrates on `first` can still find the held-back rows.
  struct Split;
  Result<Split> split_last(int64_t held_back) const;
  const CalibrationSet* held_back() const { return held_back_.get(); }  // nullptr: none held back

 private:
  struct Chunk {
    std::map<std::string, Tensor> arrays;  // model inputs, rows along their row axis
    std::map<std::string, int> axes;       // row axis per input; kWholeInEveryBatch for scalars
    Tensor labels;                         // optional
    int64_t rows = 0;
  };
  struct BatchRef {
    size_t chunk;
    int64_t start, count;
  };
  CalibrationSet rows_subset(int64_t first, int64_t count) const;
  std::shared_ptr<const CalibrationSet> held_back_;
  std::vector<Chunk> chunks_;
  std::vector<BatchRef> batches_;
  int64_t rows_ = 0;
  int64_t batch_size_ = 1;
  bool has_labels_ = false;
  std::string hash_;
  std::string source_;
};

struct CalibrationSet::Split {
  CalibrationSet first, last;
};

// Rows [start, start+count) of a tensor along dim 0, as a new tensor.
Tensor slice_rows(const Tensor& t, int64_t start, int64_t count);
// The same along `axis`; a negative axis (kWholeInEveryBatch) returns the tensor itself.
Tensor slice_along(const Tensor& t, int axis, int64_t start, int64_t count);

inline constexpr int kWholeInEveryBatch = -1;
// The axis that holds the calibration rows of a model input (see the top of this file).
int calibration_row_axis(const ir::ValueInfo& input, const std::vector<const ir::ValueInfo*>& model_inputs);

}  // namespace ember::calibration
