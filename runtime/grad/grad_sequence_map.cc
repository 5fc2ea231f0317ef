// Backward rule of SequenceMap (opset 17): the body is differentiated once per element, like
// an unrolled network whose copies share the tensors and outer values they read.
//   out_k[i] = f_k(s0[i], a_1[i] or a_1, ..., w)          (a_j a sequence or a tensor)
//   ds0[i], da_j[i] = J_{f,x}^T (dout_0[i], dout_1[i], ...)    (element i of each sequence)
//   da_j (a tensor), dw = sum_i J_{f,a_j / w}^T (dout_0[i], ...)  (outer-scope reads included)
// Elements no gradient reaches are skipped. As for If, the planner gives the node its
// outer-scope reads as extra inputs (if_gradient_inputs), and the body runs on a
// BackwardInterpreter of its own, cached per node. An outer value it reads may be a sequence:
// the body sees all of it in every copy, and its gradient is summed element by element.
#include <algorithm>
#include <cstring>
#include <map>

#include "runtime/grad/backward_interpreter.h"
#include "runtime/grad/grad_control_flow.h"
#include "runtime/grad/grad_loop_scan.h"
#include "runtime/grad/grad_util.h"
#include "runtime/grad/loop_scan_values.h"
#include "runtime/subgraph.h"

namespace ember::runtime::grad {
namespace {

const ir::Graph* map_body(const ir::Node& node) {
  const ir::Attribute* a = node.find_attr("body");
  return a && a->g ? a->g.get() : nullptr;
}

struct MapGradState {
  std::vector<std::string> sources;
  std::unique_ptr<BackwardInterpreter> interp;
};

GradNeeds map_needs(const ir::Node& node, IndexMask) {
  const size_t n = std::min(if_gradient_inputs(node).size(), kMaxIndices);
  return {n == kMaxIndices ? kAllIndices : (bit(n) - 1), 0};
}

// dst += src (a new buffer when dst is empty: src is valid only during the sink's call).
void add_into(const BackwardContext& ctx, Tensor& dst, const Tensor& src) {
  if (!dst.defined()) {
    dst = ctx.allocate(src.shape());
    std::memcpy(dst.raw_mutable(), src.raw(), src.nbytes());
    return;
  }
  float* d = dst.mutable_data<float>();
  const float* s = src.data<float>();
  for (int64_t i = 0; i < dst.numel(); ++i) d[i] += s[i];
}

// The body's inputs for element i: the elements of the sequence inputs, the tensor inputs as
// they are, and the outer values the body reads (tensors, whole sequences, optionals).
Result<std::map<std::string, Value>> element_feeds(const BackwardContext& ctx, const ir::Graph& body,
                                                   const std::vector<std::string>& names, size_t i) {
  std::map<std::string, Value> feeds;
  for (size_t j = 0; j < names.size(); ++j) {
    const Value* sequence = j < ctx.input_values.size() ? ctx.input_values[j] : nullptr;
    const bool declared = j < ctx.node.inputs.size();
    const std::string& name = declared ? body.inputs[j].name : names[j];
    if (declared && sequence && sequence->is_sequence() && sequence->depth() == 1 && i < sequence->elements().size())
      feeds[name] = sequence->elements()[i];
    else if (!declared && sequence)
      feeds[name] = *sequence;
    else if (ctx.has_input(j))
      feeds[name] = ctx.input(j);
    else
      return invalid_input(ctx.where() + ": input " + std::to_string(j) + " ('" + names[j] + "') was not kept for the backward pass");
  }
  return feeds;
}

Status sequence_map_backward(BackwardContext& ctx) {
  const ir::Graph* body = map_body(ctx.node);
  if (!body) return invalid_input(ctx.where() + ": the body attribute (a graph) is missing");
  const std::vector<std::string> names = if_gradient_inputs(ctx.node);
  const size_t declared = ctx.node.inputs.size();
  if (body->inputs.size() != declared || body->outputs.size() != ctx.node.outputs.size())
    return invalid_input(ctx.where() + ": the body's inputs and outputs do not match the node's");
  if (ctx.input_values.empty() || !ctx.input_values[0] || !ctx.input_values[0]->is_sequence())
    return invalid_input(ctx.where() + ": the input sequence was not kept for the backward pass");
  const size_t length = ctx.input_values[0]->length();
  std::map<std::string, size_t> index;  // body-side name -> node input
  std::vector<std::string> sources;
  for (size_t j = 0; j < names.size() && j < kMaxIndices; ++j) {
    const std::string& name = j < declared ? body->inputs[j].name : names[j];
    index[name] = j;
    if (ctx.wants(j)) sources.push_back(name);
  }
  std::sort(sources.begin(), sources.end());
  if (sources.empty()) return Status::Ok();
  if (!*ctx.cache) *ctx.cache = std::make_shared<MapGradState>();
  auto& state = *static_cast<MapGradState*>(ctx.cache->get());
  if (!state.interp || state.sources != sources) {
    EMBER_ASSIGN_OR_RETURN(state.interp, subgraph_interpreter(*body, ctx.opset, sources, ctx.products));
    state.sources = sources;
  }
  std::vector<SequenceGrad> element_grads(declared);  // of the sequence inputs
  for (size_t j = 0; j < declared; ++j)
    if (ctx.wants(j) && ctx.input_is_sequence(j)) element_grads[j].resize(length);
  for (size_t i = length; i-- > 0;) {
    std::map<std::string, Tensor> seeds;
    for (size_t k = 0; k < ctx.node.outputs.size(); ++k) {
      const SequenceGrad* g = ctx.output_sequence_grad(k);
      if (g && i < g->size() && (*g)[i].defined()) seeds[body->outputs[k].name] = (*g)[i];
    }
    if (seeds.empty()) continue;
    EMBER_ASSIGN_OR_RETURN(auto feeds, element_feeds(ctx, *body, names, i));
    EMBER_TRY(state.interp->forward_with_values(feeds).status());
    const auto sink = [&](const std::string& name, const Tensor& grad) -> Status {
      auto it = index.find(name);
      if (it == index.end() || grad.dtype() != DType::kF32) return Status::Ok();
      const size_t j = it->second;
      if (j < declared && !element_grads[j].empty()) add_into(ctx, element_grads[j][i], grad);
      else add_into(ctx, ctx.input_grads[j], grad);
      return Status::Ok();
    };
    const auto sequence_sink = [&](const std::string& name, const SequenceGrad& grad) -> Status {
      auto it = index.find(name);  // an outer sequence: summed over the elements mapped
      if (it == index.end() || it->second < declared) return Status::Ok();
      if (it->second >= ctx.input_sequence_grads.size())  // never dropped in silence
        return internal_error(ctx.where() + ": the outer value '" + name + "' takes a sequence gradient the node cannot pass on");
      auto& acc = ctx.input_sequence_grads[it->second];
      if (!acc) acc = SequenceGrad();
      accumulate_sequence(*acc, grad);
      return Status::Ok();
    };
    EMBER_TRY(state.interp->backward(seeds, sink, nullptr, {}, sequence_sink));
  }
  for (size_t j = 0; j < declared; ++j)
    if (!element_grads[j].empty()) ctx.input_sequence_grads[j] = std::move(element_grads[j]);
  return Status::Ok();
}

}  // namespace

Status check_sequence_map_gradient(const ir::Node& node, const std::set<std::string>& active, const GradRegistry& registry) {
  if (if_gradient_inputs(node).size() > kMaxIndices)
    return unsupported("it and its body read more than " + std::to_string(kMaxIndices) + " values");
  const ir::Graph* body = map_body(node);
  if (!body) return invalid_input("the body attribute (a graph) is missing");
  std::set<std::string> sources, seeded;
  for (const auto& in : body->inputs) sources.insert(in.name);
  for (const auto& name : outer_scope_reads(*body))
    if (active.count(name)) sources.insert(name);
  for (const auto& out : body->outputs) seeded.insert(out.name);
  EMBER_ASSIGN_OR_RETURN(const GradientPlan plan, plan_gradients(*body, sources, seeded, registry));
  if (!plan.cuts.empty())
    return unsupported("its body has a node without a backward rule: '" + plan.cuts[0].node + "' (" + plan.cuts[0].op_type + ")");
  return Status::Ok();
}

void register_sequence_map_grads(GradRegistry& r) { r.add_sequence_rule("SequenceMap", kAllIndices, map_needs, sequence_map_backward); }

}  // namespace ember::runtime::grad
