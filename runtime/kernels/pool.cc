// Pooling over any number of spatial axes: MaxPool (optional Indices output, storage_order,
// dilations, ceil_mode), AveragePool (count_include_pad, ceil_mode, dilations), LpPool, and
// the Global* variants that pool each whole plane.
// Per axis the taps of one window that land inside the input form an arithmetic progression
// (start, count, step = dilation), so a window is the product of one progression per axis;
// padding never contributes a value. AveragePool divides by the taps inside the input, or with
// count_include_pad by the taps inside the padded input (never those past the end padding
// that ceil_mode adds). f16/bf16 inputs are widened to f32 (half_fallback.h).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ir/dtype_dispatch.h"
#include "runtime/kernels/half_fallback.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/window_geometry.h"
#include "runtime/parallel.h"

namespace ember::runtime {
namespace {

enum class PoolKind { kMax, kAverage, kLp };

struct PoolParams {
  PoolKind kind;
  bool count_include_pad;
  bool column_major_indices;
  int64_t p;  // LpPool's norm
};

// MaxPool over two spatial axes without Indices: the common case (CNN downsampling) as plain
// loops over each window's rows, with no per-tap odometer. Same taps and order as pool_planes,
// so the result is identical: the first tap inside the input, then any greater one.
template <class T>
void max_pool_2d(const T* x, T* y, int64_t planes, const WindowGeometry& g) {
  const auto taps = axis_taps(g);
  const int64_t width = g.in[1], d0 = g.dilation[0], d1 = g.dilation[1];
  const int64_t in_plane = g.in_size(), out_plane = g.out_size();
  const int64_t work = out_plane * g.kernel_size();
  parallel_for(planes, std::max<int64_t>(1, 32768 / std::max<int64_t>(work, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const T* xp = x + plane * in_plane;
      T* yp = y + plane * out_plane;
      for (const AxisTaps& rows : taps[0])
        for (const AxisTaps& cols : taps[1]) {
          T best = std::numeric_limits<T>::lowest();
          if (rows.count > 0 && cols.count > 0) {
            best = xp[rows.start * width + cols.start];
            for (int64_t r = 0; r < rows.count; ++r) {
              const T* row = xp + (rows.start + r * d0) * width + cols.start;
              for (int64_t c = 0; c < cols.count; ++c) best = row[c * d1] > best ? row[c * d1] : best;
            }
          }
          *yp++ = best;
        }
    }
  });
}

// Pools `planes` planes of x into y (and the argmax into indices when not null).
template <class T>
void pool_planes(const T* x, T* y, int64_t* indices, int64_t planes, const WindowGeometry& g,
                 const PoolParams& params) {
  const int rank = g.rank();
  const auto taps = axis_taps(g);
  std::vector<int64_t> row_stride(static_cast<size_t>(rank), 1), col_stride(static_cast<size_t>(rank), 1);
  for (int a = rank - 2; a >= 0; --a)
    row_stride[static_cast<size_t>(a)] = row_stride[static_cast<size_t>(a + 1)] * g.in[static_cast<size_t>(a + 1)];
  for (int a = 1; a < rank; ++a)
    col_stride[static_cast<size_t>(a)] = col_stride[static_cast<size_t>(a - 1)] * g.in[static_cast<size_t>(a - 1)];
  const int64_t in_plane = g.in_size(), out_plane = g.out_size();
  const int64_t work = out_plane * g.kernel_size();
  parallel_for(planes, std::max<int64_t>(1, 32768 / std::max<int64_t>(work, 1)), [&](int64_t begin, int64_t end) {
    std::vector<const AxisTaps*> window(static_cast<size_t>(rank));
    std::vector<int64_t> o(static_cast<size_t>(rank)), k(static_cast<size_t>(rank));
    for (int64_t plane = begin; plane < end; ++plane) {
      const T* xp = x + plane * in_plane;
      std::fill(o.begin(), o.end(), 0);
      for (int64_t out = 0; out < out_plane; ++out) {
        int64_t valid = 1, padded = 1;
        for (size_t a = 0; a < window.size(); ++a) {
          window[a] = &taps[a][static_cast<size_t>(o[a])];
          valid *= window[a]->count;
          padded *= window[a]->padded;
        }
        T best = std::numeric_limits<T>::lowest();
        int64_t best_index = -1;
        double sum = 0;
        std::fill(k.begin(), k.end(), 0);
        for (int64_t tap = 0; tap < valid; ++tap) {
          int64_t offset = 0, column_offset = 0;
          for (size_t a = 0; a < window.size(); ++a) {
            const int64_t i = window[a]->start + k[a] * g.dilation[a];
            offset += i * row_stride[a];
            column_offset += i * col_stride[a];
          }
          const T v = xp[offset];
          if (params.kind == PoolKind::kMax) {
            if (best_index < 0 || v > best) {
              best = v;
              best_index = params.column_major_indices ? column_offset : offset;
            }
          } else if (params.kind == PoolKind::kAverage) {
            sum += static_cast<double>(v);
          } else {
            sum += std::pow(std::fabs(static_cast<double>(v)), static_cast<double>(params.p));
          }
          for (size_t a = window.size(); a-- > 0;) {  // odometer over the window's taps
            if (++k[a] < window[a]->count) break;
            k[a] = 0;
          }
        }
        T& result = y[plane * out_plane + out];
        if (params.kind == PoolKind::kMax) {
          result = best;
          if (indices) indices[plane * out_plane + out] = best_index < 0 ? -1 : plane * in_plane + best_index;
        } else if (params.kind == PoolKind::kAverage) {
          result = static_cast<T>(sum / static_cast<double>(params.count_include_pad ? padded : valid));
        } else {
          result = static_cast<T>(std::pow(sum, 1.0 / static_cast<double>(params.p)));
        }
        for (size_t a = o.size(); a-- > 0;) {  // odometer over output positions
          if (++o[a] < g.out[a]) break;
          o[a] = 0;
        }
      }
    }
  });
}

bool is_float(DType d) { return d == DType::kF32 || d == DType::kF64; }

Status run_fresh_pool(RunContext& ctx);

class PoolKernel final : public Kernel {
 public:
  PoolKernel(PoolKind kind, bool global) : kind_(kind), global_(global) {}

  Status prepare(const PrepareContext& ctx) override {
    const ir::Node& node = ctx.node;
    params_.kind = kind_;
    params_.count_include_pad = node.attr_int("count_include_pad", 0) != 0;
    params_.column_major_indices = node.attr_int("storage_order", 0) != 0;
    params_.p = node.attr_int("p", 2);
    if (kind_ == PoolKind::kLp && params_.p < 1) return invalid_input("attribute p must be >= 1");
    if (global_) return Status::Ok();
    EMBER_ASSIGN_OR_RETURN(attrs_, read_window_attrs(node));
    if (attrs_.kernel_shape.empty()) return invalid_input("attribute kernel_shape is required");
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    if (!ctx.has_input(0)) return invalid_input(ctx.where() + ": needs input X");
    const Tensor& x = ctx.input(0);
    if (x.rank() < 3) return invalid_input(ctx.where() + ": X must be [N, C, spatial...], got " + shape_to_string(x.shape()));
    const DType dtype = x.dtype();
    if (is_half_dtype(dtype)) return run_widened_to_f32(ctx, run_fresh_pool);
    const bool max_type = dtype == DType::kI8 || dtype == DType::kU8;
    if (!is_float(dtype) && !(kind_ == PoolKind::kMax && max_type)) return unsupported_dtype(ctx, dtype);

    const std::vector<int64_t> spatial(x.shape().begin() + 2, x.shape().end());
    WindowGeometry g;
    if (global_) {  // one window covering each whole plane
      const size_t rank = spatial.size();
      g = WindowGeometry{spatial, std::vector<int64_t>(rank, 1), spatial, std::vector<int64_t>(rank, 1),
                         std::vector<int64_t>(rank, 1), std::vector<int64_t>(rank, 0), std::vector<int64_t>(rank, 0)};
    } else {
      EMBER_ASSIGN_OR_RETURN(g, resolve_window(attrs_, spatial, attrs_.kernel_shape, ctx.where()));
    }
    Shape out_shape{x.dim(0), x.dim(1)};
    out_shape.insert(out_shape.end(), g.out.begin(), g.out.end());
    Tensor& y = ctx.allocate_output(0, dtype, out_shape);
    int64_t* indices = nullptr;
    if (kind_ == PoolKind::kMax && ctx.node.outputs.size() > 1 && !ctx.node.outputs[1].empty())
      indices = ctx.allocate_output(1, DType::kI64, out_shape).mutable_data<int64_t>();
    if (y.numel() == 0) return Status::Ok();
    const int64_t planes = x.dim(0) * x.dim(1);
    dispatch_dtype(dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int8_t> ||
                    std::is_same_v<T, uint8_t>) {
        if (kind_ == PoolKind::kMax && !indices && g.rank() == 2)
          max_pool_2d<T>(x.data<T>(), y.mutable_data<T>(), planes, g);
        else
          pool_planes<T>(x.data<T>(), y.mutable_data<T>(), indices, planes, g, params_);
      }
    });
    return Status::Ok();
  }

 private:
  PoolKind kind_;
  bool global_;
  WindowAttrs attrs_;
  PoolParams params_{};
};

struct PoolOp {
  const char* op;
  int since;
  PoolKind kind;
  bool global;
};

// One kernel per op covers every version: later versions only add attributes (Indices and
// storage_order in 8, ceil_mode and dilations in 10/19, int8 in 12) whose defaults
// reproduce the earlier behaviour. LpPool-1 took p as a float; from 2 on it is an int.
constexpr PoolOp kPoolOps[] = {
    {"MaxPool", 1, PoolKind::kMax, false},          {"AveragePool", 1, PoolKind::kAverage, false},
    {"LpPool", 2, PoolKind::kLp, false},            {"GlobalMaxPool", 1, PoolKind::kMax, true},
    {"GlobalAveragePool", 1, PoolKind::kAverage, true}, {"GlobalLpPool", 2, PoolKind::kLp, true},
};

// Runs a freshly prepared kernel for the node's op on widened f16/bf16 inputs.
Status run_fresh_pool(RunContext& ctx) {
  for (const PoolOp& p : kPoolOps) {
    if (ctx.node.op_type != p.op) continue;
    PoolKernel kernel(p.kind, p.global);
    EMBER_TRY(kernel.prepare(PrepareContext{ctx.node, 1 << 20, {}}));
    return kernel.run(ctx);
  }
  return internal_error(ctx.where() + ": not a pooling op");
}

}  // namespace

void register_pool_kernels(KernelRegistry& registry) {
  for (const PoolOp& p : kPoolOps) {
    const PoolKind kind = p.kind;
    const bool global = p.global;
    registry.add(p.op, "", p.since, [kind, global] { return std::make_unique<PoolKernel>(kind, global); });
  }
}

}  // namespace ember::runtime
