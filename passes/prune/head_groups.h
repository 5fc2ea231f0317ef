// Attention-head groups that structured pruning can remove, proven safe on the graph.
// The layer model (layer_groups.cc) finds the blocks: projections reading one input whose
// outputs reach a Reshape to [..., H, d]. This tracer follows every projection output forward
// to the output projection and proves that each op keeps the heads apart:
//   x -> Q/K/V projections (separate, or one fused weight of S sections [S][H][d], e.g. GPT-2's
//        c_attn) -> bias Adds, leading-axis Reshapes, last-axis Split / Slice into the sections
//     -> Reshape [..., H, d] (the head axis appears) -> Transpose, scaling by a constant, a mask
//        Add broadcast over the head axis, Softmax over another axis, MatMuls of two head
//        values with the head axis as a batch axis
//     -> Transpose back, Reshape [..., H*d] -> output projection Wo [H*d, M]
// Head h is the channels [s*H*d + h*d, s*H*d + (h+1)*d) of every section s of every projection
// (weights and biases) and the rows [h*d, (h+1)*d) of Wo. Removing it removes exactly head h's
// term from Wo's output. Every constant that encodes the head count is recorded: Reshape
// shape entries (an initializer, or a Concat piece of one) equal to H or to a width S*H*d,
// Split sizes and Slice bounds in units of H*d; each scales as v / H * H'. Anything else on
// the path (another op, a value read outside the block, a head count computed at run time)
// leaves the block alone, with the reason.
// Rotary embeddings (rotate-half: Slices of the head dimension, Neg, Concat, Mul by cos/sin
// tables broadcast over the heads, Add of the two halves) work inside each head: ops on split
// values along another axis than the head axis, and binary ops joining two head values laid
// out alike, keep the heads apart; removing whole heads leaves the head dimension as it is.
// Grouped-query attention: a query block of H heads and a key/value block of G heads (H = r G,
// same input and head dimension) are traced together; the KV heads' repeat to H heads
// (Unsqueeze, a Concat of copies or an Expand along a new axis after the head axis, and a
// Reshape merging the two axes: query head h reads KV head h / r) is followed. The unit removed
// is KV group g: its K and V columns, the columns of query heads [g r, (g+1) r) and their rows
// of the output projection; every head-count constant (Q's H, K/V's G, the repeat's H, the
// merged width H d) scales by G' / G. A Tile of the head axis (query head h reading KV head
// h mod G) or any other layout is refused with the reason.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ir/status.h"
#include "passes/analysis/layer_model.h"
#include "passes/prune/ffn_groups.h"

namespace ember::passes::prune {

struct HeadProjection {
  analysis::Layer layer;
  int64_t sections = 1;  // output channels = sections * heads * head_dim, section-major
  int64_t heads = 0;     // its heads per section (0: the group's heads(); GQA: H for Q, G for K/V)
};

// The element `element` of the initializer read as input `input` of node `node`; v -> v / H * H'.
// `width`: the entry counts channels (H*d, S*H*d: Split sizes, Slice bounds, merged widths), so
// narrowing every head to d' channels makes it v / d * d' (head_width.h); otherwise it counts heads.
struct ConstEdit {
  size_t node = 0, input = 0;
  int64_t element = 0;
  bool width = false;
};

// Which value of the attention a projection section computes (head_width.h needs the score pair
// and the values): query and key meet in the score MatMul (inputs 0 and 1), value is the context
// MatMul's input 1.
enum class HeadRole { kQuery, kKey, kValue };
struct SectionRole {
  size_t projection = 0;  // index into HeadGroup::projections
  int64_t section = 0;
  HeadRole role = HeadRole::kQuery;
};

struct SectionedConstant {  // a per-channel constant [S*H*d] on the path (a bias Add)
  std::string name;
  int64_t sections = 1;
  int64_t heads = 0;  // its heads per section (0: the group's heads())
};

struct HeadGroup {
  analysis::AttentionBlock block;
  std::vector<HeadProjection> projections;
  analysis::Layer output;                   // the output projection; rows [h*d, (h+1)*d) are head h
  std::vector<SectionedConstant> per_channel;
  std::vector<ConstEdit> edits;
  std::vector<size_t> split_attributes;     // Split nodes whose `split` attribute scales
  std::vector<std::string> values;          // values whose shape changes (their value_info keeps type and rank, not dims)
  // Narrowing the heads (head_width.h): the head-dimension entries of the head Reshapes (d -> d'),
  // the role of every projection section, or why the width cannot change (rotary embeddings,
  // grouped-query attention, a layout whose roles Ember cannot tell).
  std::vector<ConstEdit> dim_edits;
  std::vector<SectionRole> roles;
  std::string width_refusal;
  // Grouped-query attention: the key/value block (G heads; `block` is then the query block of
  // H = r G heads); empty (heads 0) for multi-head attention.
  analysis::AttentionBlock kv_block;
  int64_t heads() const { return block.heads; }  // query heads
  int64_t head_dim() const { return block.head_dim; }
  // The units removed: heads, or KV groups (each a KV head with its r query heads) for GQA.
  int64_t units() const { return kv_block.heads > 0 ? kv_block.heads : block.heads; }
  bool grouped_query() const { return kv_block.heads > 0; }
  // The channels of `kept` units in a value of `heads` heads per section ([sections][heads][d]).
  std::vector<int64_t> unit_channels(const std::vector<int64_t>& kept, int64_t heads, int64_t sections) const;
  int64_t heads_of(const HeadProjection& p) const { return p.heads > 0 ? p.heads : heads(); }
  std::string name() const { return projections.empty() ? std::string() : projections[0].layer.node; }
};

struct HeadGroups {
  std::vector<HeadGroup> groups;
  std::vector<SkippedGroup> skipped;
};

// `layers` built with `shape_of` (build_layer_model), so that it holds the attention blocks.
HeadGroups find_head_groups(const ir::Graph& graph, const analysis::LayerModel& layers,
                            const analysis::ShapeLookup& shape_of);

// Every constant entry of `edits` becomes f(v, edit); a constant that other nodes read too gets
// a copy per edited reader.
Status rewrite_head_constants(ir::Graph& graph, const std::vector<ConstEdit>& edits,
                              const std::function<Result<int64_t>(int64_t, const ConstEdit&)>& f);

// Channels of `kept` heads in a [sections][heads][head_dim] layout, ascending.
std::vector<int64_t> head_channels(const std::vector<int64_t>& kept, int64_t heads, int64_t head_dim, int64_t sections);

}  // namespace ember::passes::prune
