#include "passes/analysis/importance_accumulator.h"
#include "ir/nibbles.h"

#include <algorithm>
#include <cmath>

#include "runtime/grad/importance_rows.h"
#include "passes/analysis/quant_sensitivity.h"
#include "passes/quantize/quant_math.h"
#include "runtime/parallel.h"

namespace ember::passes::analysis {
namespace {

// The candidates' codes in the stored layout (int8 codes; both 4-bit codes in one byte) and
// their scales laid out for the row kernel (importance_rows.h): [groups][N] for a column-major
// weight, [rows][groups] for a row-major one.
template <class Scales>
void quantize_candidates(const Layer& layer, const float* stored, std::vector<int8_t>& q8, std::vector<uint8_t>& q4,
                         Scales (&scales)[kMaxRowCandidates]) {
  const std::vector<CandidateSpec>& specs = default_candidates();
  const std::vector<float> cw = canonical_matrix(layer, stored);
  q8.assign(cw.size(), 0);
  q4.assign(cw.size(), 0);
  for (size_t c = 0; c < specs.size(); ++c) {
    quant::QuantFormat format;
    format.bits = specs[c].bits;
    format.symmetric = true;
    const quant::QuantizedMatrix q = quant::quantize_rtn(cw.data(), layer.channels, layer.reduction,
                                                          specs[c].block > 0 ? specs[c].block : layer.reduction, format,
                                                          quant::ClipMode::kNone);
    const int64_t groups = q.groups();
    scales[c].group = q.group;
    scales[c].groups = groups;
    scales[c].values.assign(q.scales.size(), 0.0f);
    for (int64_t r = 0; r < layer.channels; ++r) {
      for (int64_t g = 0; g < groups; ++g)
        scales[c].values[size_t(layer.column_major() ? g * layer.channels + r : r * groups + g)] = q.scales[size_t(r * groups + g)];
      for (int64_t k = 0; k < layer.reduction; ++k) {
        const int32_t code = q.codes[size_t(r * layer.reduction + k)];
        const size_t at = static_cast<size_t>(layer.index(r, k));
        if (c == 0) q8[at] = static_cast<int8_t>(code);
        else q4[at] = c == 1 ? nibbles::pack_pair(code, nibbles::high(q4[at])) : nibbles::pack_pair(nibbles::low(q4[at]), code);
      }
    }
  }
}

}  // namespace

ImportanceAccumulator::ImportanceAccumulator(const std::map<std::string, Tensor>& weights, LayerModel layers)
    : layers_(std::move(layers)) {
  const std::vector<CandidateSpec>& specs = default_candidates();
  for (const auto& [name, value] : weights) {
    State& st = states_[name];
    st.value = value;
    const Layer* layer = layers_.find(name);
    if (!layer || !layer->is_compute()) continue;
    st.layer = layer;
    const size_t rows = static_cast<size_t>(layer->channels);
    st.batch_channel.assign(rows, 0.0);
    st.channel_abs.assign(rows, 0.0);
    st.channel_removal.assign(rows, 0.0);
    quantize_candidates(*layer, value.data<float>(), st.q8, st.q4, st.scales);
    st.noise.assign(specs.size(), 0.0);
    st.first.assign(specs.size(), 0.0);
    if (!layer->bias.empty()) bias_owner_[layer->bias] = name;
  }
  // A block with a projection that gets no gradient (cut off by an op without a backward rule) is not scored.
  std::erase_if(layers_.attention, [&](const AttentionBlock& block) {
    return std::any_of(block.slices.begin(), block.slices.end(), [&](const HeadSlice& s) { return !states_.count(s.weight); });
  });
  for (const auto& block : layers_.attention) head_abs_.emplace_back(static_cast<size_t>(block.heads), 0.0);
  head_own_abs_ = head_abs_;
  const std::vector<int> partner = grouped_query_partners(layers_.attention);
  for (size_t q = 0; q < partner.size(); ++q)
    if (partner[q] >= 0) {
      gqa_pairs_.emplace_back(q, static_cast<size_t>(partner[q]));
      gqa_abs_.emplace_back(static_cast<size_t>(layers_.attention[size_t(partner[q])].heads), 0.0);
    }
  gqa_own_abs_ = gqa_abs_;
  // Second layers read by their input channels (the rows of the group that removal zeroes).
  auto wants_inputs = [&](const std::string& weight) {
    auto it = states_.find(weight);
    if (it == states_.end() || !it->second.layer) return false;
    it->second.batch_input.assign(static_cast<size_t>(it->second.layer->reduction), 0.0);
    it->second.input_removal.assign(it->second.batch_input.size(), 0.0);
    return true;
  };
  for (const Layer& layer : layers_.layers)
    if (layer.groups == GroupKind::kFfnNeuron && states_.count(layer.weight) && !layer.ffn_consumer.empty() &&
        wants_inputs(layer.ffn_consumer))
      ffn_pairs_.emplace_back(layer.weight, layer.ffn_consumer);
  for (auto& block : layers_.attention)
    if (!block.output.empty() && !wants_inputs(block.output)) block.output.clear();  // not scored: heads without it
}

Status ImportanceAccumulator::add_gradient(const std::string& name, const Tensor& grad, double fisher_scale) {
  auto it = states_.find(name);
  if (it == states_.end()) return Status::Ok();  // a value that is not a scored weight
  if (grad.numel() != it->second.value.numel()) return internal_error("gradient of '" + name + "' has the wrong size");
  const float* g = grad.data<float>();
  const int64_t width = stored_width(it->second);
  accumulate(it->second, fisher_scale, [g, width](int64_t r0, int64_t) { return g + r0 * width; });
  // A bias belongs to its layer's channels.
  auto owner = bias_owner_.find(name);
  if (owner != bias_owner_.end()) {
    const float* w = it->second.value.data<float>();
    State& layer_state = states_.at(owner->second);
    const size_t n = std::min(layer_state.batch_channel.size(), static_cast<size_t>(grad.numel()));
    for (size_t c = 0; c < n; ++c) {
      const double p = static_cast<double>(g[c]) * w[c];
      layer_state.batch_channel[c] += p;
      layer_state.channel_removal[c] += fisher_scale * p * p;
    }
  }
  return Status::Ok();
}

Status ImportanceAccumulator::add_factored_gradient(const std::string& name, runtime::grad::FactoredGrad& grad,
                                                    double fisher_scale) {
  auto it = states_.find(name);
  if (it == states_.end()) return Status::Ok();
  State& st = it->second;
  if (grad.rows * grad.width != st.value.numel() || bias_owner_.count(name))
    return internal_error("factored gradient of '" + name + "' does not fit the weight");
  const int64_t width = stored_width(st);
  if (width != grad.width) return internal_error("factored gradient of '" + name + "' has rows of the wrong width");
  grad.pack_right();
  // Each block of rows is computed on the thread that reduces it, into that thread's buffer,
  // and read back from L2: the product never travels to DRAM and back.
  accumulate(st, fisher_scale, [&grad, width](int64_t r0, int64_t r1) {
    thread_local std::vector<float> block;
    block.resize(static_cast<size_t>((r1 - r0) * width));
    grad.compute_rows(r0, r1, block.data());
    return static_cast<const float*>(block.data());
  });
  return Status::Ok();
}

int64_t ImportanceAccumulator::stored_width(const State& st) {
  const Layer* layer = st.layer;
  return layer ? (layer->column_major() ? layer->channels : layer->reduction) : std::max<int64_t>(st.value.numel(), 1);
}

void ImportanceAccumulator::accumulate(State& st, double fisher_scale, const RowBlockSource& rows_of) {
  const float* w = st.value.data<float>();
  const Layer* layer = st.layer;
  const bool has_candidates = !st.q8.empty();
  // Rows of the stored tensor: channels of a row-major layer, reduction steps of a column-major one.
  const int64_t width = stored_width(st);
  const int64_t stored_rows = st.value.numel() / width;
  const bool by_column = layer && layer->column_major();
  const bool inputs = !st.batch_input.empty();
  const bool columns = by_column || inputs;  // per-column sums: channels of a column-major weight, else its inputs
  RowSums total;
  struct ChunkSums {
    RowSums sums;
    std::vector<float> col_gw, col_g2w2;
  };
  // Fixed blocks of rows, whatever the thread count; each keeps its own sums, and the blocks
  // are merged in row order, not in the order they finished: results are deterministic.
  // A block is a multiple of 24 rows (whole register tiles of the GEMM that may compute it).
  const int64_t block_rows = (std::max<int64_t>(1, 16384 / width) + 23) / 24 * 24;
  std::vector<ChunkSums> parts(static_cast<size_t>((stored_rows + block_rows - 1) / block_rows));
  runtime::parallel_for(static_cast<int64_t>(parts.size()), 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      ChunkSums& part = parts[size_t(b)];
      part.col_gw.assign(columns ? static_cast<size_t>(width) : 0, 0.0f);
      part.col_g2w2.assign(part.col_gw.size(), 0.0f);
      const int64_t r0 = b * block_rows, r1 = std::min(stored_rows, r0 + block_rows);
      const float* g = rows_of(r0, r1) - r0 * width;  // indexed by stored row
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t base = r * width;
        RowCandidates cand;
        if (has_candidates) {
          cand.q8 = st.q8.data() + base;
          cand.q4 = st.q4.data() + base;
          cand.s8 = st.scales[0].row(r, by_column, width);
          cand.s32 = st.scales[1].row(r, by_column, width);
          cand.s128 = st.scales[2].row(r, by_column, width);
          cand.per_element_scales = by_column;  // the per-column sums below may be wanted either way
        }
        const RowSums rs = runtime::grad::accumulate_row(g + base, w + base, has_candidates ? &cand : nullptr, width,
                                          columns ? part.col_gw.data() : nullptr, columns ? part.col_g2w2.data() : nullptr);
        part.sums.add(rs);
        if (inputs && by_column) {  // a stored row is one input channel: written by this block alone
          st.batch_input[static_cast<size_t>(r)] += rs.gw;
          st.input_removal[static_cast<size_t>(r)] += fisher_scale * rs.g2w2;
        }
        if (layer && !by_column) {  // each row is its own channel: written by this block alone
          st.batch_channel[static_cast<size_t>(r)] += rs.gw;
          st.channel_removal[static_cast<size_t>(r)] += fisher_scale * rs.g2w2;
        }
      }
    }
  });
  for (const ChunkSums& part : parts) {
    total.add(part.sums);
    std::vector<double>& sums = by_column ? st.batch_channel : st.batch_input;
    std::vector<double>& removal = by_column ? st.channel_removal : st.input_removal;
    for (size_t i = 0; i < part.col_gw.size(); ++i) {
      sums[i] += part.col_gw[i];
      removal[i] += fisher_scale * part.col_g2w2[i];
    }
  }
  st.batch_sum += total.gw;
  st.fisher_sum += fisher_scale * total.g2;
  st.removal += fisher_scale * total.g2w2;
  for (int c = 0; has_candidates && c < kMaxRowCandidates; ++c) {
    st.first[size_t(c)] += total.gd[c];
    st.noise[size_t(c)] += fisher_scale * total.g2d2[c];
  }
}

void ImportanceAccumulator::end_batch() {
  // A neuron's group sum includes its W2 row; first layers reaching one second layer (a gated
  // FFN's gate and up projections) are one group: each gets the sum over all of them.
  std::map<std::string, std::vector<State*>> firsts_of;
  for (const auto& [first, second] : ffn_pairs_) {
    State& a = states_.at(first);
    if (a.batch_channel.size() == states_.at(second).batch_input.size()) firsts_of[second].push_back(&a);
  }
  for (const auto& [second, firsts] : firsts_of) {
    const State& b = states_.at(second);
    std::vector<double> own(b.batch_input.size(), 0.0);
    for (const State* a : firsts)
      for (size_t c = 0; c < own.size(); ++c) own[c] += a->batch_channel[c];
    for (State* a : firsts) {
      a->own_abs.resize(own.size(), 0.0);
      for (size_t c = 0; c < own.size(); ++c) {
        a->own_abs[c] += std::fabs(own[c]);
        a->batch_channel[c] = own[c] + b.batch_input[c];
      }
    }
  }
  for (size_t b = 0; b < layers_.attention.size(); ++b) {
    const AttentionBlock& block = layers_.attention[b];
    for (int64_t h = 0; h < block.heads; ++h) {
      double s = 0, rows = 0;
      for (const HeadSlice& slice : block.slices) {
        const State& st = states_.at(slice.weight);
        for (int64_t c = slice.offset + h * block.head_dim; c < slice.offset + (h + 1) * block.head_dim; ++c)
          s += st.batch_channel[static_cast<size_t>(c)];
      }
      if (!block.output.empty())  // and the head's rows of the output projection
        for (int64_t c = h * block.head_dim; c < (h + 1) * block.head_dim; ++c) rows += states_.at(block.output).batch_input[size_t(c)];
      head_own_abs_[b][static_cast<size_t>(h)] += std::fabs(s);
      head_abs_[b][static_cast<size_t>(h)] += std::fabs(s + rows);
    }
  }
  for (size_t p = 0; p < gqa_pairs_.size(); ++p) {  // a KV group: its K/V head and its query heads
    const AttentionBlock& q = layers_.attention[gqa_pairs_[p].first];
    const AttentionBlock& kv = layers_.attention[gqa_pairs_[p].second];
    const int64_t r = q.heads / kv.heads;
    for (int64_t g = 0; g < kv.heads; ++g) {
      double own = head_channel_sum(kv, g), rows = 0;
      for (int64_t h = g * r; h < (g + 1) * r; ++h) {
        own += head_channel_sum(q, h);
        if (!q.output.empty())
          for (int64_t c = h * q.head_dim; c < (h + 1) * q.head_dim; ++c) rows += states_.at(q.output).batch_input[size_t(c)];
      }
      gqa_own_abs_[p][size_t(g)] += std::fabs(own);
      gqa_abs_[p][size_t(g)] += std::fabs(own + rows);
    }
  }
  for (auto& [name, st] : states_) {
    st.taylor_abs += std::fabs(st.batch_sum);
    st.batch_sum = 0;
    for (size_t c = 0; c < st.batch_channel.size(); ++c) {
      st.channel_abs[c] += std::fabs(st.batch_channel[c]);
      st.batch_channel[c] = 0;
    }
    std::fill(st.batch_input.begin(), st.batch_input.end(), 0.0);
  }
  ++batches_;
}

std::vector<TensorImportance> ImportanceAccumulator::tensors(const std::vector<std::string>& order) const {
  std::vector<TensorImportance> out;
  const double inv = batches_ ? 1.0 / static_cast<double>(batches_) : 0.0;
  const std::vector<CandidateSpec>& specs = default_candidates();
  for (const auto& name : order) {
    auto it = states_.find(name);
    if (it == states_.end()) continue;
    const State& st = it->second;
    TensorImportance t;
    t.name = name;
    t.shape = st.value.shape();
    t.taylor = st.taylor_abs * inv;
    t.fisher_sum = st.fisher_sum * inv;
    t.fisher_removal = 0.5 * st.removal * inv;
    if (st.layer) {
      t.op = st.layer->op;
      t.layer_node = st.layer->node;
      for (size_t c = 0; c < specs.size(); ++c) {
        PrecisionCandidate p;
        p.precision = "int" + std::to_string(specs[c].bits);
        p.block = specs[c].block;
        p.noise = st.noise[c] * inv;
        p.first_order = st.first[c] * inv;
        p.predicted_loss_increase = p.first_order + 0.5 * p.noise;
        t.candidates.push_back(p);
      }
      t.groups.kind = st.layer->groups;
      for (double a : st.channel_abs) t.groups.taylor.push_back(a * inv);
      for (double r : st.channel_removal) t.groups.fisher.push_back(0.5 * r * inv);
      t.groups.taylor_first = t.groups.taylor;
      for (size_t c = 0; c < st.own_abs.size() && st.own_abs.size() == t.groups.taylor.size(); ++c) t.groups.taylor_first[c] = st.own_abs[c] * inv;
      for (const auto& [first, second] : ffn_pairs_)
        if (first == name && states_.at(second).input_removal.size() == t.groups.fisher.size())
          for (const auto& [sibling, same] : ffn_pairs_)  // a gated FFN: the other first layers' columns
            if (same == second && sibling != name && states_.at(sibling).channel_removal.size() == t.groups.fisher.size())
              for (size_t c = 0; c < t.groups.fisher.size(); ++c) t.groups.fisher[c] += 0.5 * states_.at(sibling).channel_removal[c] * inv;
      t.groups.fisher_first = t.groups.fisher;
      for (const auto& [first, second] : ffn_pairs_)
        if (first == name && states_.at(second).input_removal.size() == t.groups.fisher.size())
          for (size_t c = 0; c < t.groups.fisher.size(); ++c) t.groups.fisher[c] += 0.5 * states_.at(second).input_removal[c] * inv;
    }
    out.push_back(std::move(t));
  }
  return out;
}

double ImportanceAccumulator::head_channel_sum(const AttentionBlock& block, int64_t head) const {
  double s = 0;
  for (const HeadSlice& slice : block.slices) {
    const State& st = states_.at(slice.weight);
    for (int64_t c = slice.offset + head * block.head_dim; c < slice.offset + (head + 1) * block.head_dim; ++c)
      s += st.batch_channel[static_cast<size_t>(c)];
  }
  return s;
}

std::vector<HeadImportance> ImportanceAccumulator::heads() const {
  std::vector<HeadImportance> out;
  const double inv = batches_ ? 1.0 / static_cast<double>(batches_) : 0.0;
  for (size_t b = 0; b < layers_.attention.size(); ++b) {
    const AttentionBlock& block = layers_.attention[b];
    HeadImportance h;
    h.block = block;
    h.fisher.assign(static_cast<size_t>(block.heads), 0.0);
    for (double a : head_abs_[b]) h.taylor.push_back(a * inv);
    for (double a : head_own_abs_[b]) h.taylor_first.push_back(a * inv);
    for (const HeadSlice& slice : block.slices) {
      const State& st = states_.at(slice.weight);
      for (int64_t k = 0; k < block.heads; ++k)
        for (int64_t c = slice.offset + k * block.head_dim; c < slice.offset + (k + 1) * block.head_dim; ++c)
          h.fisher[static_cast<size_t>(k)] += 0.5 * st.channel_removal[static_cast<size_t>(c)] * inv;
    }
    h.fisher_first = h.fisher;
    for (size_t p = 0; p < gqa_pairs_.size(); ++p)
      if (gqa_pairs_[p].second == b) {
        for (double a : gqa_abs_[p]) h.group_taylor.push_back(a * inv);
        for (double a : gqa_own_abs_[p]) h.group_taylor_first.push_back(a * inv);
      }
    if (!block.output.empty())
      for (int64_t c = 0; c < block.heads * block.head_dim; ++c)
        h.fisher[size_t(c / block.head_dim)] += 0.5 * states_.at(block.output).input_removal[size_t(c)] * inv;
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace ember::passes::analysis
