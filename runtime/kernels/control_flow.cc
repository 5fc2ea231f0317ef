// Control flow with subgraphs: If (1+), Loop (1+), Scan (9+), with outer-scope values.
//   If:   runs then_branch or else_branch; the taken branch's outputs are the node's outputs.
//   Loop: body(i, cond, v...) -> (cond', v'..., scan...) while i < M (when given) and cond
//         (when given); outputs are the final v and each scan value stacked along a new axis 0.
//   Scan: body(state..., slices...) -> (state'..., elems...) over axis scan_input_axes[j] of
//         each scan input (reversed when its direction is 1); elems are stacked along
//         scan_output_axes (reversed when their direction is 1).
// If and Loop carry sequences and optionals too (value_kernel.h); Scan carries tensors (its
// body may read outer-scope sequences).
// Bodies run on their own Interpreter (subgraph.h), prepared once. Loop iterations and Scan
// lengths are capped (ir/memory_limits.h: max_loop_iterations, max_sequence_length): a
// negative or absurd trip count is rejected before the first iteration.
#include <cstring>
#include <optional>

#include "ir/memory_limits.h"
#include "runtime/subgraph.h"

namespace ember::runtime {
namespace {

Result<std::unique_ptr<SubgraphRunner>> body_runner(const PrepareContext& ctx, const std::string& attr) {
  const std::string where = "node '" + ctx.node.name + "' (" + ctx.node.op_type + ")";
  const ir::Attribute* a = ctx.node.find_attr(attr);
  if (!a || !a->g) return invalid_input(where + ": the " + attr + " attribute (a graph) is missing");
  return SubgraphRunner::create(*a->g, ctx.opset, where);
}

// Stacks equally shaped `parts` along a new `axis` (in reverse order when `reverse`).
Result<Tensor> stack_parts(TensorAllocator& allocator, const std::string& where, const std::vector<Tensor>& parts, int64_t axis,
                           bool reverse, DType empty_type) {
  if (parts.empty()) return allocator.allocate(empty_type, {0});
  const Shape& part = parts[0].shape();
  const int64_t rank = int64_t(part.size()) + 1;
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return invalid_input(where + ": scan output axis out of range");
  const int bits = traits(parts[0].dtype()).bits;
  if (bits == 0 || bits % 8) return invalid_input(where + ": scan outputs of type " + std::string(dtype_name(parts[0].dtype())) + " are not supported");
  for (const auto& p : parts)
    if (p.shape() != part || p.dtype() != parts[0].dtype())
      return invalid_input(where + ": scan output changes shape or type between iterations (" + shape_to_string(part) + " then " + shape_to_string(p.shape()) + ")");
  Shape shape = part;
  shape.insert(shape.begin() + axis, int64_t(parts.size()));
  Tensor y = allocator.allocate(parts[0].dtype(), shape);
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= part[size_t(d)];
  const size_t inner = parts[0].nbytes() / size_t(outer ? outer : 1);
  auto* dst = static_cast<uint8_t*>(y.raw_mutable());
  const size_t n = parts.size();
  for (size_t t = 0; t < n; ++t) {
    const auto* src = static_cast<const uint8_t*>(parts[reverse ? n - 1 - t : t].raw());
    for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + (size_t(o) * n + t) * inner, src + size_t(o) * inner, inner);
  }
  return y;
}

// The same into output `out` of a tensor kernel.
Result<Tensor> stack(RunContext& ctx, size_t out, const std::vector<Tensor>& parts, int64_t axis, bool reverse, DType empty_type) {
  if (out >= ctx.outputs.size()) throw MissingInput(out, "output");
  EMBER_ASSIGN_OR_RETURN(ctx.outputs[out], stack_parts(ctx.allocator, ctx.where(), parts, axis, reverse, empty_type));
  return ctx.outputs[out];
}

// A kernel running one subgraph, its "body" attribute, with the outer-scope values it reads.
class BodyKernel : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    EMBER_ASSIGN_OR_RETURN(body_, body_runner(ctx, "body"));
    outer_ = outer_scope_reads(ctx.node);
    return Status::Ok();
  }

 protected:
  std::unique_ptr<SubgraphRunner> body_;
  std::vector<std::string> outer_;
};

// If and Loop carry values of any kind (sequences, optionals: opset 11+ / 16+): ValueKernels.
Result<bool> read_condition_value(const ValueRunContext& ctx, size_t i, const std::string& what) {
  EMBER_ASSIGN_OR_RETURN(const Tensor* t, ctx.tensor(i, what));
  if (t->numel() != 1) return invalid_input(ctx.where() + ": " + what + " must hold one element, it has shape " + shape_to_string(t->shape()));
  if (t->dtype() != DType::kBool) return invalid_input(ctx.where() + ": " + what + " must be bool, it is " + std::string(dtype_name(t->dtype())));
  return t->data<uint8_t>()[0] != 0;
}

class IfKernel final : public ValueKernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    EMBER_ASSIGN_OR_RETURN(then_, body_runner(ctx, "then_branch"));
    EMBER_ASSIGN_OR_RETURN(else_, body_runner(ctx, "else_branch"));
    outer_ = outer_scope_reads(ctx.node);
    return Status::Ok();
  }
  Status run_values(ValueRunContext& ctx) override {
    EMBER_ASSIGN_OR_RETURN(bool cond, read_condition_value(ctx, 0, "the condition"));
    SubgraphRunner& branch = cond ? *then_ : *else_;
    EMBER_ASSIGN_OR_RETURN(std::vector<Value> out, branch.run_values({}, outer_values(ctx, outer_)));
    if (out.size() != ctx.outputs.size())
      return invalid_input(ctx.where() + ": the " + (cond ? "then" : "else") + " branch has " + std::to_string(out.size()) +
                           " outputs, the node " + std::to_string(ctx.outputs.size()));
    for (size_t i = 0; i < out.size(); ++i) ctx.outputs[i] = std::move(out[i]);
    return Status::Ok();
  }

 private:
  std::unique_ptr<SubgraphRunner> then_, else_;
  std::vector<std::string> outer_;
};

class LoopKernel final : public ValueKernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    EMBER_ASSIGN_OR_RETURN(body_, body_runner(ctx, "body"));
    outer_ = outer_scope_reads(ctx.node);
    const size_t carried = ctx.node.inputs.size() < 2 ? 0 : ctx.node.inputs.size() - 2;
    if (body_->body().inputs.size() != carried + 2 || body_->body().outputs.size() < carried + 1)
      return invalid_input("node '" + ctx.node.name + "' (Loop): the body must take 2 + " + std::to_string(carried) +
                           " inputs and give 1 + " + std::to_string(carried) + " outputs or more");
    return Status::Ok();
  }
  Status run_values(ValueRunContext& ctx) override {
    std::optional<int64_t> trips;
    if (ctx.has_input(0)) {
      EMBER_ASSIGN_OR_RETURN(const Tensor* m, ctx.tensor(0, "the trip count M"));
      if (m->numel() != 1 || m->dtype() != DType::kI64) return invalid_input(ctx.where() + ": the trip count M must be one int64");
      trips = m->data<int64_t>()[0];
      if (*trips < 0) return invalid_input(ctx.where() + ": the trip count M is negative (" + std::to_string(*trips) + ")");
      EMBER_TRY(check_loop_iterations(*trips, ctx.where() + ": the trip count M"));
    }
    bool cond = true;
    if (ctx.has_input(1)) {
      EMBER_ASSIGN_OR_RETURN(cond, read_condition_value(ctx, 1, "the condition"));
    }
    const size_t carried = ctx.node.inputs.size() - 2;
    std::vector<Value> state;
    for (size_t i = 0; i < carried; ++i) {
      if (!ctx.has_input(2 + i)) return invalid_input(ctx.where() + ": loop-carried input " + std::to_string(i) + " is missing");
      state.push_back(ctx.inputs[2 + i]);
    }
    const size_t scans = body_->body().outputs.size() - 1 - carried;
    std::vector<std::vector<Tensor>> scanned(scans);
    const auto outer = outer_values(ctx, outer_);
    for (int64_t i = 0; (!trips || i < *trips) && cond; ++i) {
      EMBER_TRY(check_loop_iterations(i + 1, ctx.where() + ": the loop's condition stayed true"));
      Tensor cond_in = Tensor::zeros(DType::kBool, {});
      cond_in.mutable_data<uint8_t>()[0] = cond ? 1 : 0;
      std::vector<Value> in = {Tensor::scalar<int64_t>(i), cond_in};
      in.insert(in.end(), state.begin(), state.end());
      EMBER_ASSIGN_OR_RETURN(std::vector<Value> out, body_->run_values(in, outer));
      EMBER_ASSIGN_OR_RETURN(cond, read_body_condition(ctx, out[0]));
      for (size_t k = 0; k < carried; ++k) state[k] = std::move(out[1 + k]);
      for (size_t k = 0; k < scans; ++k) {
        if (!out[1 + carried + k].is_tensor())
          return invalid_input(ctx.where() + ": scan output " + std::to_string(k) + " of the body is a " + out[1 + carried + k].describe() +
                               "; Loop stacks tensors");
        scanned[k].push_back(out[1 + carried + k].tensor());
      }
    }
    for (size_t k = 0; k < carried && k < ctx.outputs.size(); ++k) ctx.outputs[k] = state[k];
    for (size_t k = 0; k < scans && carried + k < ctx.outputs.size(); ++k) {
      const DType t = body_->body().outputs[1 + carried + k].elem_type;
      EMBER_ASSIGN_OR_RETURN(Tensor stacked, stack_parts(ctx.allocator, ctx.where(), scanned[k], 0, false, t == DType::kUndefined ? DType::kF32 : t));
      ctx.outputs[carried + k] = std::move(stacked);
    }
    return Status::Ok();
  }

 private:
  static Result<bool> read_body_condition(const ValueRunContext& ctx, const Value& v) {
    const std::string what = "the body's condition output";
    if (!v.is_tensor()) return invalid_input(ctx.where() + ": " + what + " must be a tensor, it is a " + v.describe());
    const Tensor& t = v.tensor();
    if (t.numel() != 1 || t.dtype() != DType::kBool)
      return invalid_input(ctx.where() + ": " + what + " must be one bool, it is " + std::string(dtype_name(t.dtype())) + " " + shape_to_string(t.shape()));
    return t.data<uint8_t>()[0] != 0;
  }
  std::unique_ptr<SubgraphRunner> body_;
  std::vector<std::string> outer_;
};

// A copy of slice `index` of `t` along `axis` (the axis removed).
Tensor take_slice(const Tensor& t, int64_t axis, int64_t index) {
  Shape shape = t.shape();
  const int64_t n = shape[size_t(axis)];
  shape.erase(shape.begin() + axis);
  Tensor out = Tensor::zeros(t.dtype(), shape);
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= t.dim(int(d));
  const size_t inner = out.nbytes() / size_t(outer ? outer : 1);
  const auto* src = static_cast<const uint8_t*>(t.raw());
  auto* dst = static_cast<uint8_t*>(out.raw_mutable());
  for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + size_t(o) * inner, src + (size_t(o * n + index)) * inner, inner);
  return out;
}

// Scan (9+) is a ValueKernel only so that its body may read outer-scope sequences and
// optionals (the spec types Scan's own states and scan values, V, as tensors: a sequence
// there is refused naming the node).
class ScanKernel final : public ValueKernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    EMBER_ASSIGN_OR_RETURN(body_, body_runner(ctx, "body"));
    outer_ = outer_scope_reads(ctx.node);
    return Status::Ok();
  }
  Status run_values(ValueRunContext& ctx) override {
    const int64_t m = ctx.node.attr_int("num_scan_inputs", 0);
    const size_t declared = ctx.node.inputs.size();
    if (m <= 0 || size_t(m) > declared) return invalid_input(ctx.where() + ": num_scan_inputs must be in [1, inputs]");
    const size_t n = declared - size_t(m);
    const auto in_axes = ctx.node.attr_ints("scan_input_axes"), in_dirs = ctx.node.attr_ints("scan_input_directions");
    const auto out_axes = ctx.node.attr_ints("scan_output_axes"), out_dirs = ctx.node.attr_ints("scan_output_directions");
    std::vector<const Tensor*> inputs;
    for (size_t i = 0; i < declared; ++i) {
      if (!ctx.has_input(i)) return invalid_input(ctx.where() + ": input " + std::to_string(i) + " is missing");
      if (!ctx.inputs[i].is_tensor()) return refuse_non_tensor(ctx, "input " + std::to_string(i) + " ('" + ctx.node.inputs[i] + "')", ctx.inputs[i]);
      inputs.push_back(&ctx.inputs[i].tensor());
    }
    std::vector<Value> state;
    for (size_t i = 0; i < n; ++i) state.push_back(*inputs[i]);
    int64_t length = -1;
    std::vector<int64_t> axes;
    for (size_t j = 0; j < size_t(m); ++j) {
      const Tensor& x = *inputs[n + j];
      int64_t axis = j < in_axes.size() ? in_axes[j] : 0;
      if (axis < 0) axis += x.rank();
      if (axis < 0 || axis >= x.rank()) return invalid_input(ctx.where() + ": scan input axis out of range");
      if (length >= 0 && x.dim(int(axis)) != length) return invalid_input(ctx.where() + ": scan inputs differ in length");
      length = x.dim(int(axis));
      axes.push_back(axis);
    }
    EMBER_TRY(check_sequence_length(length, ctx.where()));
    if (body_->body().outputs.size() < n || body_->body().inputs.size() != declared || ctx.outputs.size() != body_->body().outputs.size())
      return invalid_input(ctx.where() + ": the body must take the " + std::to_string(declared) + " states and slices and give the " +
                           std::to_string(n) + " states and the node's scan outputs");
    const size_t k_out = body_->body().outputs.size() - n;
    std::vector<std::vector<Tensor>> scanned(k_out);
    const auto outer = outer_values(ctx, outer_);
    for (int64_t t = 0; t < length; ++t) {
      std::vector<Value> in = state;
      for (size_t j = 0; j < size_t(m); ++j) {
        const bool reverse = j < in_dirs.size() && in_dirs[j] == 1;
        in.push_back(take_slice(*inputs[n + j], axes[j], reverse ? length - 1 - t : t));
      }
      EMBER_ASSIGN_OR_RETURN(std::vector<Value> out, body_->run_values(in, outer));
      for (size_t k = 0; k < out.size(); ++k)
        if (!out[k].is_tensor()) return refuse_non_tensor(ctx, "the body's output " + std::to_string(k) + " ('" + body_->body().outputs[k].name + "')", out[k]);
      for (size_t k = 0; k < n; ++k) state[k] = std::move(out[k]);
      for (size_t k = 0; k < k_out; ++k) scanned[k].push_back(out[n + k].tensor());
    }
    for (size_t k = 0; k < n; ++k) ctx.outputs[k] = state[k];
    for (size_t k = 0; k < k_out; ++k) {
      const DType t = body_->body().outputs[n + k].elem_type;
      EMBER_ASSIGN_OR_RETURN(Tensor stacked, stack_parts(ctx.allocator, ctx.where(), scanned[k], k < out_axes.size() ? out_axes[k] : 0,
                                                         k < out_dirs.size() && out_dirs[k] == 1, t == DType::kUndefined ? DType::kF32 : t));
      ctx.outputs[n + k] = std::move(stacked);
    }
    return Status::Ok();
  }

 private:
  static Status refuse_non_tensor(const ValueRunContext& ctx, const std::string& what, const Value& v) {
    return invalid_input(ctx.where() + ": " + what + " is a " + v.describe() +
                         "; Scan carries tensors only (ONNX types its states and scan values as tensors)");
  }
  std::unique_ptr<SubgraphRunner> body_;
  std::vector<std::string> outer_;
};

// Scan-8: every input has a batch axis 0 and scan inputs a sequence axis 1; each batch row is
// scanned on its own (for sequence_lens[b] steps, the rest of its scan outputs left zero).
class Scan8Kernel final : public BodyKernel {
 public:
  Status run(RunContext& ctx) override {
    const int64_t m = ctx.node.attr_int("num_scan_inputs", 0);
    const size_t declared = ctx.node.inputs.size();
    if (declared < 1 || m <= 0 || size_t(m) > declared - 1) return invalid_input(ctx.where() + ": num_scan_inputs must be in [1, inputs - 1]");
    const size_t n = declared - 1 - size_t(m);
    if (body_->body().outputs.size() < n || body_->body().inputs.size() != n + size_t(m) || ctx.outputs.size() != body_->body().outputs.size() ||
        !ctx.has_input(1))
      return invalid_input(ctx.where() + ": the body's inputs and outputs do not match the node's states and scan inputs");
    const size_t k_out = body_->body().outputs.size() - n;
    for (size_t i = 1; i < declared; ++i)
      if (!ctx.has_input(i) || ctx.input(i).rank() < 1) return invalid_input(ctx.where() + ": input " + std::to_string(i) + " is missing or has no batch axis");
    const auto dirs = ctx.node.attr_ints("directions");
    const int64_t batch = ctx.input(1).dim(0), seq = ctx.input(1 + n).rank() > 1 ? ctx.input(1 + n).dim(1) : 0;
    EMBER_TRY(check_sequence_length(seq, ctx.where()));
    std::vector<int64_t> lens(static_cast<size_t>(batch), seq);
    if (ctx.has_input(0)) {
      const Tensor& l = ctx.input(0);
      if (l.numel() != batch || l.dtype() != DType::kI64) return invalid_input(ctx.where() + ": sequence_lens must be int64 [batch]");
      for (int64_t b = 0; b < batch; ++b) lens[size_t(b)] = l.data<int64_t>()[b];
    }
    const auto outer = outer_values(ctx, outer_);
    std::vector<std::vector<Tensor>> finals(n), scanned(k_out);  // per output, per batch row
    for (int64_t b = 0; b < batch; ++b) {
      if (lens[size_t(b)] < 0 || lens[size_t(b)] > seq) return invalid_input(ctx.where() + ": sequence length out of range");
      std::vector<Tensor> state, rows;
      for (size_t i = 0; i < n; ++i) state.push_back(take_slice(ctx.input(1 + i), 0, b));
      for (size_t j = 0; j < size_t(m); ++j) rows.push_back(take_slice(ctx.input(1 + n + j), 0, b));
      std::vector<std::vector<Tensor>> steps(k_out);
      for (int64_t t = 0; t < lens[size_t(b)]; ++t) {
        std::vector<Tensor> in = state;
        for (size_t j = 0; j < size_t(m); ++j)
          in.push_back(take_slice(rows[j], 0, j < dirs.size() && dirs[j] == 1 ? lens[size_t(b)] - 1 - t : t));
        EMBER_ASSIGN_OR_RETURN(std::vector<Tensor> out, body_->run(in, outer));
        for (size_t k = 0; k < n; ++k) state[k] = std::move(out[k]);
        for (size_t k = 0; k < k_out; ++k) steps[k].push_back(std::move(out[n + k]));
      }
      for (size_t k = 0; k < n; ++k) finals[k].push_back(state[k]);
      for (size_t k = 0; k < k_out; ++k) {
        if (steps[k].empty()) return unsupported(ctx.where() + ": an empty sequence leaves the scan output's shape unknown");
        while (int64_t(steps[k].size()) < seq) steps[k].push_back(Tensor::zeros(steps[k][0].dtype(), steps[k][0].shape()));
        EMBER_TRY(stack(ctx, n + k, steps[k], 0, false, DType::kF32).status());
        scanned[k].push_back(ctx.outputs[n + k]);
      }
    }
    for (size_t k = 0; k < n; ++k) EMBER_TRY(stack(ctx, k, finals[k], 0, false, DType::kF32).status());
    for (size_t k = 0; k < k_out; ++k) EMBER_TRY(stack(ctx, n + k, scanned[k], 0, false, DType::kF32).status());
    return Status::Ok();
  }
};

}  // namespace

void register_control_flow_kernels(KernelRegistry& registry) {
  registry.add("Scan", "", 8, [] { return std::make_unique<Scan8Kernel>(); });
  registry.add("If", "", 1, [] { return std::make_unique<IfKernel>(); });
  registry.add("Loop", "", 1, [] { return std::make_unique<LoopKernel>(); });
  registry.add("Scan", "", 9, [] { return std::make_unique<ScanKernel>(); });
}

}  // namespace ember::runtime
