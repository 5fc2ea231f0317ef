#include "passes/analysis/importance_accumulator.h"

#include <algorithm>
#include <cmath>

#include "passes/analysis/quant_sensitivity.h"
#include "runtime/parallel.h"

namespace ember::passes::analysis {
namespace {

// One pass over a stored row: f += scale g^2, columns += g w (when given), returns sum g w.
// Eight independent partial sums keep the reduction vectorizable.
template <bool kColumns>
double accumulate_row(const float* g, const float* w, float* f, int64_t n, float scale, float* columns) {
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) {
      const float gi = g[i + k], gw = gi * w[i + k];
      f[i + k] += scale * gi * gi;
      part[k] += gw;
      if constexpr (kColumns) columns[i + k] += gw;
    }
  double total = 0;
  for (; i < n; ++i) {
    const float gw = g[i] * w[i];
    f[i] += scale * g[i] * g[i];
    total += gw;
    if constexpr (kColumns) columns[i] += gw;
  }
  for (float p : part) total += p;
  return total;
}

}  // namespace

ImportanceAccumulator::ImportanceAccumulator(const std::map<std::string, Tensor>& weights, LayerStructure structure)
    : structure_(std::move(structure)) {
  for (const auto& [name, value] : weights) {
    State& st = states_[name];
    st.value = value;
    st.fisher.assign(static_cast<size_t>(value.numel()), 0.0f);
    auto layer = structure_.layers.find(name);
    if (layer != structure_.layers.end()) {
      st.layer = &layer->second;
      st.batch_channel.assign(static_cast<size_t>(layer->second.rows), 0.0);
      st.channel_abs.assign(static_cast<size_t>(layer->second.rows), 0.0);
      if (!layer->second.bias.empty()) bias_owner_[layer->second.bias] = name;
    }
  }
  for (const auto& block : structure_.attention) head_abs_.emplace_back(static_cast<size_t>(block.heads), 0.0);
}

Status ImportanceAccumulator::add_gradient(const std::string& name, const Tensor& grad, double fisher_scale) {
  auto it = states_.find(name);
  if (it == states_.end()) return Status::Ok();  // a value that is not a scored weight
  State& st = it->second;
  if (grad.numel() != st.value.numel()) return internal_error("gradient of '" + name + "' has the wrong size");
  const float* g = grad.data<float>();
  const float* w = st.value.data<float>();
  float* f = st.fisher.data();
  const float scale = static_cast<float>(fisher_scale);
  const LayerWeight* layer = st.layer;
  // Rows of the stored tensor: channels of a row-major layer, reduction steps of a column-major one.
  const int64_t width = layer ? (layer->column_major ? layer->rows : layer->cols) : std::max<int64_t>(st.value.numel(), 1);
  const int64_t stored_rows = st.value.numel() / width;
  const bool by_column = layer && layer->column_major;
  runtime::parallel_for(stored_rows, std::max<int64_t>(1, 16384 / width), [&](int64_t r0, int64_t r1) {
    std::vector<float> columns(by_column ? static_cast<size_t>(width) : 0, 0.0f);
    std::vector<std::pair<int64_t, double>> rows;
    double sum = 0;
    for (int64_t r = r0; r < r1; ++r) {
      const double row_sum =
          by_column ? accumulate_row<true>(g + r * width, w + r * width, f + r * width, width, scale, columns.data())
                    : accumulate_row<false>(g + r * width, w + r * width, f + r * width, width, scale, nullptr);
      sum += row_sum;
      if (layer && !by_column) rows.emplace_back(r, row_sum);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    st.batch_sum += sum;
    for (size_t i = 0; i < columns.size(); ++i) st.batch_channel[i] += columns[i];
    for (const auto& [r, v] : rows) st.batch_channel[static_cast<size_t>(r)] += v;
  });
  // A bias belongs to its layer's channels.
  auto owner = bias_owner_.find(name);
  if (owner != bias_owner_.end()) {
    State& layer_state = states_.at(owner->second);
    const size_t n = std::min(layer_state.batch_channel.size(), static_cast<size_t>(grad.numel()));
    for (size_t c = 0; c < n; ++c)
      layer_state.batch_channel[c] += static_cast<double>(g[c]) * w[c];
  }
  return Status::Ok();
}

void ImportanceAccumulator::end_batch() {
  for (size_t b = 0; b < structure_.attention.size(); ++b) {
    const AttentionBlock& block = structure_.attention[b];
    for (int64_t h = 0; h < block.heads; ++h) {
      double s = 0;
      for (const HeadSlice& slice : block.slices) {
        const State& st = states_.at(slice.weight);
        for (int64_t c = slice.offset + h * block.head_dim; c < slice.offset + (h + 1) * block.head_dim; ++c)
          s += st.batch_channel[static_cast<size_t>(c)];
      }
      head_abs_[b][static_cast<size_t>(h)] += std::fabs(s);
    }
  }
  for (auto& [name, st] : states_) {
    st.taylor_abs += std::fabs(st.batch_sum);
    st.batch_sum = 0;
    for (size_t c = 0; c < st.batch_channel.size(); ++c) {
      st.channel_abs[c] += std::fabs(st.batch_channel[c]);
      st.batch_channel[c] = 0;
    }
  }
  ++batches_;
}

std::vector<double> ImportanceAccumulator::channel_fisher(const State& st) const {
  const LayerWeight& layer = *st.layer;
  const double inv = batches_ ? 1.0 / static_cast<double>(batches_) : 0.0;
  std::vector<double> out(static_cast<size_t>(layer.rows), 0.0);
  const float* w = st.value.data<float>();
  for (int64_t r = 0; r < layer.rows; ++r)
    for (int64_t c = 0; c < layer.cols; ++c) {
      const int64_t i = layer.index(r, c);
      out[static_cast<size_t>(r)] += 0.5 * inv * st.fisher[static_cast<size_t>(i)] * w[i] * w[i];
    }
  auto bias = states_.find(layer.bias);
  if (!layer.bias.empty() && bias != states_.end()) {
    const float* b = bias->second.value.data<float>();
    for (size_t r = 0; r < out.size() && r < bias->second.fisher.size(); ++r)
      out[r] += 0.5 * inv * bias->second.fisher[r] * b[r] * b[r];
  }
  return out;
}

std::vector<TensorImportance> ImportanceAccumulator::tensors(const std::vector<std::string>& order) const {
  std::vector<TensorImportance> out;
  const double inv = batches_ ? 1.0 / static_cast<double>(batches_) : 0.0;
  for (const auto& name : order) {
    auto it = states_.find(name);
    if (it == states_.end()) continue;
    const State& st = it->second;
    TensorImportance t;
    t.name = name;
    t.shape = st.value.shape();
    t.taylor = st.taylor_abs * inv;
    std::vector<float> fisher(st.fisher.size());
    const float* w = st.value.data<float>();
    for (size_t i = 0; i < fisher.size(); ++i) {
      fisher[i] = static_cast<float>(st.fisher[i] * inv);
      t.fisher_sum += fisher[i];
      t.fisher_removal += 0.5 * fisher[i] * w[i] * w[i];
    }
    if (st.layer) {
      t.op = st.layer->op;
      t.layer_node = st.layer->node;
      t.candidates = quantization_candidates(*st.layer, w, fisher.data());
      t.groups.kind = st.layer->groups;
      for (double a : st.channel_abs) t.groups.taylor.push_back(a * inv);
      t.groups.fisher = channel_fisher(st);
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<HeadImportance> ImportanceAccumulator::heads() const {
  std::vector<HeadImportance> out;
  const double inv = batches_ ? 1.0 / static_cast<double>(batches_) : 0.0;
  for (size_t b = 0; b < structure_.attention.size(); ++b) {
    const AttentionBlock& block = structure_.attention[b];
    HeadImportance h;
    h.block = block;
    h.fisher.assign(static_cast<size_t>(block.heads), 0.0);
    for (double a : head_abs_[b]) h.taylor.push_back(a * inv);
    for (const HeadSlice& slice : block.slices) {
      const std::vector<double> channels = channel_fisher(states_.at(slice.weight));
      for (int64_t k = 0; k < block.heads; ++k)
        for (int64_t c = slice.offset + k * block.head_dim; c < slice.offset + (k + 1) * block.head_dim; ++c)
          h.fisher[static_cast<size_t>(k)] += channels[static_cast<size_t>(c)];
    }
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace ember::passes::analysis
