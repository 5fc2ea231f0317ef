// Int8MatMul -> Reshape -> Split of the last axis => an Int8MatMul with one output per part
// (rewrite_column_split.h).
//
// Before:  Y [M, N] = Int8MatMul(X, W);  Z = Reshape(Y, [d..., N]);  Z_1..Z_k = Split(Z, axis = -1)
// After:   Y_1..Y_k [M, N / k] = Int8MatMul(X, W);  Z_i = Reshape(Y_i, [d..., N / k])
// Column j of the product, and so of each part, is the same dot product and epilogue either way.
#include "runtime/optimizer/rewrite_column_split.h"

#include <string>
#include <vector>

#include "runtime/fused/fused_ops.h"
#include "runtime/optimizer/pattern_rewriter.h"

namespace ember::runtime {
namespace {

using ir::Node;

class ColumnSplitter : public PatternRewriter {
 public:
  explicit ColumnSplitter(ir::Model& model) : PatternRewriter(model) {}

  int run() {
    int rewritten = 0;
    for (size_t i = 0; i < graph_.nodes.size(); ++i) rewritten += split(int(i)) ? 1 : 0;
    apply();
    return rewritten;
  }

 private:
  bool split(int p) {
    const Node& mm = node(p);
    if (mm.op_type != fused::kInt8MatMul || mm.domain != fused::kDomain || mm.outputs.size() != 1 ||
        !mm.attr_string("activation", "").empty())
      return false;
    const Tensor* w = constant(input_or_empty(mm, 1));
    if (!w || w->rank() != 2) return false;
    const int64_t N = mm.attr_int("trans_b", 0) != 0 ? w->dim(0) : w->dim(1);
    // The Reshape: a constant shape whose last entry is N, so only the leading dims change.
    const int r = sole_reader(mm.outputs[0]);
    if (r < 0 || !is_default_op(node(r), "Reshape") || node(r).inputs.size() != 2) return false;
    const Tensor* shape = constant(node(r).inputs[1]);
    if (!shape || shape->dtype() != DType::kI64 || shape->rank() != 1 || shape->numel() < 1 ||
        shape->data<int64_t>()[shape->numel() - 1] != N)
      return false;
    const int64_t rank = shape->numel();
    // The Split: the last axis into k equal parts, every one read.
    const int s = sole_reader(node(r).outputs.at(0));
    if (s < 0 || !is_default_op(node(s), "Split")) return false;
    const Node& sp = node(s);
    const int64_t k = int64_t(sp.outputs.size());
    int64_t axis = sp.attr_int("axis", 0);
    if (axis < 0) axis += rank;
    if (axis != rank - 1 || k < 2 || N % k != 0) return false;
    for (const std::string& out : sp.outputs)
      if (out.empty()) return false;
    std::vector<int64_t> sizes = sp.attr_ints("split");
    if (sp.inputs.size() > 1 && !sp.inputs[1].empty()) {
      const Tensor* given = constant(sp.inputs[1]);
      if (!given || given->dtype() != DType::kI64) return false;
      sizes.assign(given->data<int64_t>(), given->data<int64_t>() + given->numel());
    }
    if (!sizes.empty() && int64_t(sizes.size()) != k) return false;
    for (int64_t size : sizes)
      if (size != N / k) return false;

    Tensor part_shape = shape->clone();  // a copied Tensor would share the original's storage
    part_shape.mutable_data<int64_t>()[rank - 1] = N / k;
    const std::string part_shape_name = fresh_name(node(r).inputs[1] + "/part");
    graph_.set_initializer(part_shape_name, std::move(part_shape));
    Node product = mm;
    product.outputs.clear();
    std::vector<Node> views;
    for (int64_t g = 0; g < k; ++g) {
      product.outputs.push_back(fresh_name(mm.outputs[0] + "/part" + std::to_string(g)));
      Node view = node(r);
      view.name += "/part" + std::to_string(g);
      view.inputs = {product.outputs.back(), part_shape_name};
      view.outputs = {sp.outputs[size_t(g)]};
      views.push_back(std::move(view));
    }
    emit(p, std::move(product), {p, r, s}, {});
    for (Node& view : views) emit_as_is(s, std::move(view), {}, {});
    return true;
  }
};

}  // namespace

int split_int8_product_columns(ir::Model& model) { return ColumnSplitter(model).run(); }

}  // namespace ember::runtime
