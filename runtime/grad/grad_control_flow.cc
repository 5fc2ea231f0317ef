// Backward rule of If (grad_control_flow.h). The branch runs on a BackwardInterpreter of its
// own, built on first use and cached per node: its graph inputs are the branch's outer-scope
// reads, its sources are the reads whose gradient the outer plan wants, and no weight of the
// branch itself is differentiated (weights kept inside a branch get no score yet). An outer
// read may be a sequence: the branch's interpreter gives its gradient element by element; or an
// optional, fed as one, whose gradient is its element's.
#include "runtime/grad/grad_control_flow.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <memory>

#include "runtime/grad/backward_interpreter.h"
#include "runtime/grad/gradient_path.h"
#include "runtime/subgraph.h"

namespace ember::runtime::grad {
namespace {

constexpr size_t kMaxInputs = kMaxIndices;

const ir::Graph* branch(const ir::Node& node, const char* name) {
  const ir::Attribute* a = node.find_attr(name);
  return a && a->g ? a->g.get() : nullptr;
}

struct BranchGradient {
  std::vector<std::string> sources;  // the outer values differentiated, sorted
  std::unique_ptr<BackwardInterpreter> interp;
};

struct IfGradState {
  BranchGradient then_branch, else_branch;
};

GradNeeds if_needs(const ir::Node& node, IndexMask) {
  const size_t n = std::min(if_gradient_inputs(node).size(), kMaxInputs);
  return {n == kMaxInputs ? kAllIndices : (bit(n) - 1), 0};
}

Status if_backward(BackwardContext& ctx) {
  const std::vector<std::string> names = if_gradient_inputs(ctx.node);
  if (!ctx.has_input(0) || ctx.input(0).numel() != 1 || ctx.input(0).dtype() != DType::kBool)
    return invalid_input(ctx.where() + ": the condition must be one bool");
  const bool taken = ctx.input(0).data<uint8_t>()[0] != 0;
  const ir::Graph* body = branch(ctx.node, taken ? "then_branch" : "else_branch");
  if (!body) return invalid_input(ctx.where() + ": a branch attribute (a graph) is missing");
  const std::vector<std::string> reads = outer_scope_reads(*body);
  std::map<std::string, size_t> index;  // outer value -> input index
  std::vector<std::string> sources;
  for (size_t j = 1; j < names.size() && j < kMaxInputs; ++j) {
    index[names[j]] = j;
    if (ctx.wants(j) && std::binary_search(reads.begin(), reads.end(), names[j])) sources.push_back(names[j]);
  }
  if (sources.empty()) return Status::Ok();  // the taken branch reads none of the wanted values

  if (!*ctx.cache) *ctx.cache = std::make_shared<IfGradState>();
  auto& state = *static_cast<IfGradState*>(ctx.cache->get());
  BranchGradient& g = taken ? state.then_branch : state.else_branch;
  if (!g.interp || g.sources != sources) {
    EMBER_ASSIGN_OR_RETURN(g.interp, subgraph_interpreter(*body, ctx.opset, sources, ctx.products));
    g.sources = sources;
  }
  std::map<std::string, Value> feeds;
  for (const auto& name : reads) {
    auto it = index.find(name);
    const size_t j = it == index.end() ? 0 : it->second;
    const Value* sequence = j && j < ctx.input_values.size() ? ctx.input_values[j] : nullptr;  // or an optional
    if (!j || (!ctx.has_input(j) && !sequence))
      return internal_error(ctx.where() + ": the outer value '" + name + "' its branch reads was not kept");
    feeds[name] = sequence ? *sequence : Value(ctx.input(j));  // an optional stays one (its tensor is its input too)
  }
  EMBER_TRY(g.interp->forward_with_values(feeds).status());
  std::map<std::string, Tensor> seeds;
  std::map<std::string, SequenceGrad> sequence_seeds;  // outputs that are sequences
  for (size_t j = 0; j < ctx.node.outputs.size() && j < body->outputs.size(); ++j) {
    const SequenceGrad* sequence = ctx.output_sequence_grad(j);
    if (!ctx.has_output_grad(j) && !sequence) continue;
    const std::string& name = body->outputs[j].name;
    if (seeds.count(name) || sequence_seeds.count(name))
      return unsupported(ctx.where() + ": two outputs of the branch are the same value '" + name + "'");
    if (sequence) sequence_seeds[name] = *sequence;
    else seeds[name] = ctx.output_grad(j);
  }
  const auto sink = [&](const std::string& name, const Tensor& grad) -> Status {
    auto it = index.find(name);
    if (it == index.end() || grad.dtype() != DType::kF32) return Status::Ok();
    Tensor copy = ctx.allocate(grad.shape());
    std::memcpy(copy.raw_mutable(), grad.raw(), grad.nbytes());
    ctx.input_grads[it->second] = std::move(copy);
    return Status::Ok();
  };
  const auto sequence_sink = [&](const std::string& name, const SequenceGrad& grad) -> Status {
    auto it = index.find(name);
    if (it == index.end()) return Status::Ok();
    if (it->second >= ctx.input_sequence_grads.size())  // never dropped in silence
      return internal_error(ctx.where() + ": the outer value '" + name + "' takes a sequence gradient the node cannot pass on");
    SequenceGrad copy(grad.size());  // grad is valid only during the call
    for (size_t i = 0; i < grad.size(); ++i)
      if (grad[i].defined()) copy[i] = grad[i].clone();
    ctx.input_sequence_grads[it->second] = std::move(copy);
    return Status::Ok();
  };
  return g.interp->backward(seeds, sink, nullptr, sequence_seeds, sequence_sink);
}

}  // namespace

// The body as a model whose inputs are its own, then its outer-scope reads (untyped, as
// SubgraphRunner does).
Result<std::unique_ptr<BackwardInterpreter>> subgraph_interpreter(const ir::Graph& body, int64_t opset,
                                                                   const std::vector<std::string>& sources,
                                                                   GemmInputs products) {
  ir::Model model;
  model.ir_version = 8;
  model.opset_imports = {{"", opset}};
  model.graph = body;
  for (const auto& name : outer_scope_reads(body)) {
    ir::ValueInfo vi;
    vi.name = name;
    model.graph.inputs.push_back(vi);
  }
  GradientOptions options;
  options.activations = sources;
  options.min_parameter_elements = std::numeric_limits<int64_t>::max();  // the branch's own weights: none
  options.products = products;
  return BackwardInterpreter::create(model, options);
}

std::vector<std::string> if_gradient_inputs(const ir::Node& node) {
  std::vector<std::string> inputs = node.inputs;
  for (auto& name : outer_scope_reads(node)) inputs.push_back(std::move(name));
  return inputs;
}

Status check_if_gradient(const ir::Node& node, const std::set<std::string>& active, const GradRegistry& registry) {
  if (node.op_type != "If" || (!node.domain.empty() && node.domain != "ai.onnx"))
    return unsupported("no backward rule through the subgraphs of " + node.op_type);
  if (if_gradient_inputs(node).size() > kMaxInputs)
    return unsupported("its branches read more than " + std::to_string(kMaxInputs - 1) + " outer values");
  for (const char* attr : {"then_branch", "else_branch"}) {
    const ir::Graph* body = branch(node, attr);
    if (!body) return invalid_input(std::string("the ") + attr + " attribute (a graph) is missing");
    std::set<std::string> sources, seeded;
    for (const auto& name : outer_scope_reads(*body))
      if (active.count(name)) sources.insert(name);
    if (sources.empty()) continue;
    for (const auto& out : body->outputs) seeded.insert(out.name);
    EMBER_ASSIGN_OR_RETURN(const GradientPlan plan, plan_gradients(*body, sources, seeded, registry));
    if (!plan.cuts.empty())
      return unsupported(std::string(attr) + " has a node without a backward rule: '" + plan.cuts[0].node + "' (" +
                         plan.cuts[0].op_type + ")");
  }
  return Status::Ok();
}

// A branch output that is a sequence takes its gradient as one (the branch's own interpreter
// carries it back), and so does an outer sequence the branch reads.
void register_control_flow_grads(GradRegistry& r) { r.add_sequence_rule("If", ~bit(0), if_needs, if_backward); }

}  // namespace ember::runtime::grad
