#include "passes/prune/head_width.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "passes/prune/head_pruning.h"
#include "passes/prune/prune_edit.h"
#include "passes/prune/recovery.h"
#include "passes/prune/sym_eigen.h"

namespace ember::passes::prune {
namespace {

using analysis::Layer;
using Matrix = std::vector<double>;  // row-major

constexpr double kRidge = 1e-4;  // of the mean diagonal of each moment matrix

Matrix multiply(const Matrix& a, const Matrix& b, int64_t n, int64_t k, int64_t m) {  // [n, k] x [k, m]
  Matrix c(size_t(n * m), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < k; ++p) {
      const double aip = a[size_t(i * k + p)];
      for (int64_t j = 0; j < m; ++j) c[size_t(i * m + j)] += aip * b[size_t(p * m + j)];
    }
  return c;
}

Matrix transpose(const Matrix& a, int64_t n, int64_t m) {
  Matrix t(a.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) t[size_t(j * n + i)] = a[size_t(i * m + j)];
  return t;
}

// Square roots of S + ridge (S [d, d] symmetric PSD) and the top `dim` eigenvectors [d, dim] of
// S^{1/2} G S^{1/2}.
struct WhitenedBasis {
  Matrix root, inv_root, top;
};

WhitenedBasis whitened_basis(Matrix s, const Matrix& g, int64_t d, int64_t dim) {
  double mean_diag = 0;
  for (int64_t i = 0; i < d; ++i) mean_diag += s[size_t(i * d + i)] / double(d);
  const double ridge = kRidge * std::max(mean_diag, 1e-30);
  for (int64_t i = 0; i < d; ++i) s[size_t(i * d + i)] += ridge;
  const SymEigen es = sym_eigen(std::move(s), d);
  WhitenedBasis b{sym_sqrt(es, d, ridge), sym_inv_sqrt(es, d, ridge), {}};
  const SymEigen eh = sym_eigen(multiply(multiply(b.root, g, d, d, d), b.root, d, d, d), d);
  b.top.resize(size_t(d * dim));
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < dim; ++j) b.top[size_t(i * dim + j)] = eh.vectors[size_t(i * d + j)];
  return b;
}

// recovery=none|bias: the `dim` channels of largest `importance`, as rows of the identity [dim, d]
// (ascending channel order; ties to the lower channel).
Matrix channel_selection(const std::vector<double>& importance, int64_t d, int64_t dim) {
  std::vector<int64_t> order(static_cast<size_t>(d));
  for (int64_t i = 0; i < d; ++i) order[size_t(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return importance[size_t(a)] > importance[size_t(b)]; });
  order.resize(size_t(dim));
  std::sort(order.begin(), order.end());
  Matrix c(size_t(dim * d), 0.0);
  for (int64_t i = 0; i < dim; ++i) c[size_t(i * d + order[size_t(i)])] = 1;
  return c;
}

// A projection's canonical weight [channels, K] and bias as doubles-friendly floats.
struct Projection {
  Layer layer;
  std::vector<float> w, b;  // b empty without bias
};

Projection read_projection(const ir::Graph& graph, const Layer& original) {
  Projection p{current_layer(graph, original), {}, {}};
  p.w = analysis::canonical_matrix(p.layer, *graph.find_initializer(p.layer.weight));
  if (const Tensor* t = p.layer.bias.empty() ? nullptr : graph.find_initializer(p.layer.bias)) p.b.assign(t->data<float>(), t->data<float>() + t->numel());
  return p;
}

// E[y y^T] of y = W_rows x + b_rows (rows [row0, row0 + d) of p) from E[x x^T] `sx` and E[x] `mu`.
Matrix output_moment(const Projection& p, int64_t row0, int64_t d, const Matrix& sx, const std::vector<double>& mu) {
  const int64_t K = p.layer.reduction;
  Matrix w(size_t(d * K));
  std::vector<double> wm(size_t(d), 0.0), b(size_t(d), 0.0);
  for (int64_t i = 0; i < d; ++i) {
    for (int64_t k = 0; k < K; ++k) w[size_t(i * K + k)] = p.w[size_t((row0 + i) * K + k)];
    for (int64_t k = 0; k < K; ++k) wm[size_t(i)] += w[size_t(i * K + k)] * mu[size_t(k)];
    if (!p.b.empty()) b[size_t(i)] = p.b[size_t(row0 + i)];
  }
  Matrix m = multiply(multiply(w, sx, d, K, K), transpose(w, d, K), d, K, d);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) m[size_t(i * d + j)] += wm[size_t(i)] * b[size_t(j)] + b[size_t(i)] * wm[size_t(j)] + b[size_t(i)] * b[size_t(j)];
  return m;
}

// The new rows of section `s` of head `h`: rows' = C rows (C [dim, d]), into `w`/`b` laid out
// [sections][heads][dim].
void write_rows(const Projection& p, int64_t row0, int64_t new_row0, int64_t d, int64_t dim, const Matrix& c,
                std::vector<float>& w, std::vector<float>& b) {
  const int64_t K = p.layer.reduction;
  for (int64_t i = 0; i < dim; ++i) {
    double bias = 0;
    for (int64_t j = 0; j < d; ++j) {
      const double cij = c[size_t(i * d + j)];
      if (!p.b.empty()) bias += cij * p.b[size_t(row0 + j)];
      const float* src = p.w.data() + (row0 + j) * K;
      float* dst = w.data() + (new_row0 + i) * K;
      for (int64_t k = 0; k < K; ++k) dst[k] += static_cast<float>(cij * src[k]);
    }
    if (!p.b.empty()) b[size_t(new_row0 + i)] = static_cast<float>(bias);
  }
}


}  // namespace

int64_t narrowed_head_dim(int64_t d, double ratio) {
  return std::max<int64_t>(1, d - static_cast<int64_t>(std::llround(ratio * static_cast<double>(d))));
}

int64_t head_width_params(const HeadGroup& g, int64_t dim) {
  const int64_t cut = g.head_dim() - dim;
  int64_t p = g.heads() * cut * g.output.channels;
  for (const auto& proj : g.projections)
    p += proj.sections * g.heads_of(proj) * cut * (proj.layer.reduction + (proj.layer.bias.empty() ? 0 : 1));
  return p;
}

int64_t head_width_macs(const HeadGroup& g, int64_t dim) {
  int64_t m = g.heads() * dim * g.output.channels;
  for (const auto& proj : g.projections) m += proj.sections * g.heads_of(proj) * dim * proj.layer.reduction;
  return m;
}

Status narrow_heads(ir::Graph& graph, const HeadGroup& g, int64_t dim, const analysis::LayerInputAnalysis::Output& inputs,
                    Recovery recovery) {
  const bool rebase = recovery == Recovery::kLsq || recovery == Recovery::kLsqSequential;
  const bool shift_mean = recovery != Recovery::kNone;
  if (!g.width_refusal.empty()) return internal_error("prune-structured: block '" + g.name() + "' cannot be narrowed: " + g.width_refusal);
  const int64_t d = g.head_dim(), H = g.heads();
  if (dim < 1 || dim >= d) return internal_error("prune-structured: head width " + std::to_string(dim) + " out of range");
  std::vector<Projection> projs;
  for (const auto& p : g.projections) projs.push_back(read_projection(graph, p.layer));
  const SectionRole* role[3] = {nullptr, nullptr, nullptr};
  for (const SectionRole& r : g.roles) role[int(r.role)] = &r;
  if (!role[0] || !role[1] || !role[2]) return internal_error("prune-structured: block '" + g.name() + "' has no query, key and value");
  auto first_row = [&](const SectionRole& r, int64_t h) { return (r.section * g.heads_of(g.projections[r.projection]) + h) * d; };
  auto input_moments_of = [&](const SectionRole& r, Matrix& sx, std::vector<double>& mu) -> Status {
    const Layer& l = projs[r.projection].layer;
    EMBER_ASSIGN_OR_RETURN(const analysis::LayerInputStats* st, consumer_input_stats(inputs, l.input, l.reduction, "head-width"));
    sx = input_moments(*st, l.reduction, false), mu = st->mean();
    return Status::Ok();
  };
  Matrix sxq, sxk;
  std::vector<double> muq, muk;
  EMBER_TRY(input_moments_of(*role[0], sxq, muq));
  EMBER_TRY(input_moments_of(*role[1], sxk, muk));
  Projection out = read_projection(graph, g.output);
  const int64_t M = out.layer.channels, N = out.layer.reduction;
  EMBER_ASSIGN_OR_RETURN(const analysis::LayerInputStats* zst, consumer_input_stats(inputs, out.layer.input, N, "head-width"));
  const Matrix sz = input_moments(*zst, N, true);
  const std::vector<double> muz = zst->mean();
  // New projection tensors, zero-filled and accumulated head by head.
  std::vector<std::vector<float>> new_w, new_b;
  for (const auto& p : projs) {
    const int64_t rows = p.layer.channels / d * dim;
    new_w.emplace_back(size_t(rows * p.layer.reduction), 0.0f);
    new_b.emplace_back(p.b.empty() ? 0 : size_t(rows), 0.0f);
  }
  std::vector<float> wo(size_t(M * H * dim), 0.0f);
  std::vector<double> bo_shift(size_t(M), 0.0);
  for (int64_t h = 0; h < H; ++h) {
    // Query and key: M = Tq Tk^T of rank dim.
    const Matrix sq = output_moment(projs[role[0]->projection], first_row(*role[0], h), d, sxq, muq);
    const Matrix sk = output_moment(projs[role[1]->projection], first_row(*role[1], h), d, sxk, muk);
    Matrix cq, ck;  // Tq^T, Tk^T [dim, d]
    if (rebase) {
      const WhitenedBasis qk = whitened_basis(sk, sq, d, dim);
      cq = transpose(multiply(qk.root, qk.top, d, d, dim), d, dim);
      ck = transpose(multiply(qk.inv_root, qk.top, d, d, dim), d, dim);
    } else {  // the channels whose products q_j k_j carry the most: E[q_j^2] E[k_j^2]
      std::vector<double> importance(static_cast<size_t>(d));
      for (int64_t j = 0; j < d; ++j) importance[size_t(j)] = sq[size_t(j * d + j)] * sk[size_t(j * d + j)];
      cq = ck = channel_selection(importance, d, dim);
    }
    // Value and output: P = To Sv of rank dim.
    Matrix szh(size_t(d * d)), gram(size_t(d * d), 0.0);
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j) szh[size_t(i * d + j)] = sz[size_t((h * d + i) * N + h * d + j)];
    for (int64_t m = 0; m < M; ++m)
      for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j < d; ++j) gram[size_t(i * d + j)] += double(out.w[size_t(m * N + h * d + i)]) * out.w[size_t(m * N + h * d + j)];
    Matrix cv, to;  // Sv [dim, d], To [d, dim]
    if (rebase) {
      const WhitenedBasis vo = whitened_basis(szh, gram, d, dim);
      cv = multiply(transpose(vo.top, d, dim), vo.inv_root, dim, d, d);
      to = multiply(vo.root, vo.top, d, d, dim);
    } else {  // the channels of largest Var(z_j) ||Wo column j||^2
      std::vector<double> importance(static_cast<size_t>(d));
      for (int64_t j = 0; j < d; ++j) importance[size_t(j)] = szh[size_t(j * d + j)] * gram[size_t(j * d + j)];
      cv = channel_selection(importance, d, dim);
      to = transpose(cv, dim, d);
    }
    const Matrix p = multiply(to, cv, d, dim, d);
    for (int64_t m = 0; m < M; ++m) {
      const float* wh = out.w.data() + m * N + h * d;
      for (int64_t j = 0; j < dim; ++j) {
        double acc = 0;
        for (int64_t i = 0; i < d; ++i) acc += double(wh[i]) * to[size_t(i * dim + j)];
        wo[size_t(m * H * dim + h * dim + j)] = static_cast<float>(acc);
      }
      for (int64_t i = 0; i < d && shift_mean; ++i) {  // Wo_h (I - P) mu_h
        double residual = muz[size_t(h * d + i)];
        for (int64_t j = 0; j < d; ++j) residual -= p[size_t(i * d + j)] * muz[size_t(h * d + j)];
        bo_shift[size_t(m)] += double(wh[i]) * residual;
      }
    }
    const Matrix* coef[3] = {&cq, &ck, &cv};
    for (int r = 0; r < 3; ++r) {
      const SectionRole& sr = *role[r];
      const int64_t heads = g.heads_of(g.projections[sr.projection]);
      write_rows(projs[sr.projection], first_row(sr, h), (sr.section * heads + h) * dim, d, dim, *coef[r], new_w[sr.projection], new_b[sr.projection]);
    }
  }
  for (size_t i = 0; i < projs.size(); ++i) {
    Layer l = projs[i].layer;
    l.channels = l.channels / d * dim;
    l.shape = stored_shape(l);
    graph.set_initializer(l.weight, analysis::from_canonical(l, new_w[i]));
    if (!l.bias.empty()) graph.set_initializer(l.bias, Tensor::from_vector<float>({l.channels}, new_b[i]));
  }
  Layer o = out.layer;
  o.reduction = H * dim;
  o.shape = stored_shape(o);
  graph.set_initializer(o.weight, analysis::from_canonical(o, wo));
  if (!o.bias.empty()) {
    std::vector<float> b = out.b;
    for (int64_t m = 0; m < M; ++m) b[size_t(m)] += static_cast<float>(bo_shift[size_t(m)]);
    graph.set_initializer(o.bias, Tensor::from_vector<float>(graph.find_initializer(o.bias)->shape(), b));
  }
  auto rescale = [&](int64_t v, const ConstEdit& e) -> Result<int64_t> {
    if (!e.width) return v;  // a head count
    if (v % d != 0) return internal_error("prune-structured: a width constant of block '" + g.name() + "' is not a multiple of the head dimension");
    return v / d * dim;
  };
  EMBER_TRY(rewrite_head_constants(graph, g.edits, rescale));
  EMBER_TRY(rewrite_head_constants(graph, g.dim_edits, [&](int64_t, const ConstEdit&) -> Result<int64_t> { return dim; }));
  for (size_t index : g.split_attributes)
    for (auto& a : graph.nodes[index].attributes)
      if (a.name == "split")
        for (int64_t& v : a.ints) v = v / d * dim;
  forget_dims(graph, g.values);
  return Status::Ok();
}

int64_t head_width_removed(const HeadGroups& groups, double ratio) {
  int64_t removed = 0;
  for (const HeadGroup& g : groups.groups)
    if (g.width_refusal.empty()) removed += head_width_params(g, narrowed_head_dim(g.head_dim(), ratio));
  return removed;
}

Result<HeadWidthOutcome> narrow_model_heads(const ir::Model& original, const HeadGroups& found, ir::Model& pruned, PassContext& ctx,
                                            double ratio, int64_t rows, Recovery recovery) {
  HeadWidthOutcome outcome;
  outcome.skipped = found.skipped;
  std::vector<const HeadGroup*> narrowable;
  for (const HeadGroup& g : found.groups) {
    if (g.width_refusal.empty()) narrowable.push_back(&g);
    else outcome.skipped.push_back({g.name(), "its heads keep their width: " + g.width_refusal});
  }
  if (narrowable.empty()) {
    std::string why;
    for (const auto& s : outcome.skipped) why += "; '" + s.layer + "': " + s.reason;
    return invalid_input("prune-structured: head-width found no attention block whose heads can be narrowed (looked for "
                         "query, key and value projections meeting in a score and a context MatMul, without rotary "
                         "embeddings or grouped-query attention)" + why);
  }
  analysis::LayerInputAnalysis::Options io;
  io.max_rows = rows;
  EMBER_ASSIGN_OR_RETURN(const auto inputs, ctx.analyses.get<analysis::LayerInputAnalysis>(original, io));
  for (const HeadGroup* g : narrowable) {
    const int64_t d = g->head_dim(), dim = narrowed_head_dim(d, ratio);
    if (dim < d) EMBER_TRY(narrow_heads(pruned.graph, *g, dim, *inputs, recovery).with_context("attention block '" + g->name() + "'"));
    const int64_t whole = head_unit_params(*g) * g->units();
    PrunedLayer row{g->name(), g->output.node, d, dim, whole, whole - head_width_params(*g, dim), head_width_macs(*g, d), head_width_macs(*g, dim), 0};
    row.unit = "head-dims";
    outcome.layers.push_back(row);
  }
  return outcome;
}

}  // namespace ember::passes::prune
