#include "passes/quantize/activation_quantizer.h"

#include <map>
#include <optional>

#include "calibration/calibrator.h"
#include "passes/quantize/activation_ort.h"
#include "passes/quantize/activation_rewrite.h"
#include "passes/quantize/activation_targets.h"
#include "passes/graph_edit.h"
#include "passes/quantize/smoothquant.h"

namespace ember::passes {
namespace {

using namespace act_quant;

struct Settings {
  bool dynamic = true;
  bool ort = false;
  bool per_row = false;
  calibration::ObserverOptions observer;
  double smoothquant = 0;
  TargetOptions targets;
  DType act_type = DType::kU8;
  int64_t batch = 0;
  int64_t calib_rows = 0;
};

// The option values as given (the table below fixes their types, defaults and help).
struct ActivationOptionValues {
  std::string mode = "dynamic", method = "percentile", format = "qdq", granularity = "auto", exclude, include,
              ops = "MatMul+Gemm+Conv", act_type = "u8";
  double percentile = 99.99, smoothquant = 0;
  bool act_act = false;
  int64_t batch = 0, calib_rows = 0;
};

const OptionTable<ActivationOptionValues>& option_table() {
  using V = ActivationOptionValues;
  static const OptionTable<V> table({
      {"mode", &V::mode, "dynamic: scales computed at run time (no calibration); static: scales from calibration"},
      {"method", &V::method, "static: clip range method, minmax | percentile | entropy | mse"},
      {"percentile", &V::percentile, "static, method=percentile: share of values kept on each side"},
      {"format", &V::format, "qdq: QuantizeLinear/DequantizeLinear; ort: DynamicQuantizeLinear + MatMulInteger (dynamic only)"},
      {"granularity", &V::granularity,
       "format=ort: one activation scale per row (token; symmetric int8) or per tensor (u8, DynamicQuantizeLinear); "
       "format=qdq is per tensor",
       "auto (row for format=ort, tensor for qdq)"},
      {"smoothquant", &V::smoothquant, "SmoothQuant alpha applied first to float weights (0 = off; e.g. 0.5)"},
      {"exclude", &V::exclude, "Regular expression on node names (or first outputs) to keep float (no ',' or '}')"},
      {"include", &V::include, "Regular expression on node names (or first outputs): only these are quantized (empty: every target; no ',' or '}')"},
      {"ops", &V::ops, "Op types whose activation inputs are quantized, joined by '+'"},
      {"act-act", &V::act_act, "Also quantize MatMuls whose two inputs are activations (attention)"},
      {"act-type", &V::act_type, "static: activation type, u8 or s8"},
      {"batch", &V::batch, "static: calibration rows per inference (0 = as the set was opened)"},
      {"calib-rows", &V::calib_rows, "static: calibration rows to use (0 = the whole set)"},
  });
  return table;
}

Result<Settings> read_settings(const PassOptions& options, std::string_view pass) {
  const std::string p(pass);
  EMBER_ASSIGN_OR_RETURN(const ActivationOptionValues o, option_table().parse(options));
  Settings s;
  const std::string& mode = o.mode;
  const std::string& format = o.format;
  const std::string granularity = o.granularity != "auto" ? o.granularity : format == "ort" ? "row" : "tensor";
  const std::string& act_type = o.act_type;
  if (mode != "dynamic" && mode != "static") return invalid_input(p + ": mode must be dynamic or static, got '" + mode + "'");
  if (format != "qdq" && format != "ort") return invalid_input(p + ": format must be qdq or ort, got '" + format + "'");
  if (granularity != "tensor" && granularity != "row")
    return invalid_input(p + ": granularity must be tensor or row, got '" + granularity + "'");
  if (act_type != "u8" && act_type != "s8") return invalid_input(p + ": act-type must be u8 or s8, got '" + act_type + "'");
  s.dynamic = mode == "dynamic";
  s.ort = format == "ort";
  s.per_row = granularity == "row";
  s.act_type = act_type == "s8" ? DType::kI8 : DType::kU8;
  if (!s.dynamic && s.ort)
    return invalid_input(p + ": format=ort is the dynamic form (DynamicQuantizeLinear + MatMulInteger); static quantization emits format=qdq");
  if (s.per_row && !s.ort)
    return invalid_input(p + ": granularity=row needs format=ort (QDQ's DynamicQuantizeLinear is per tensor)");
  if (s.dynamic && !s.ort && s.act_type == DType::kI8)
    return invalid_input(p + ": dynamic QDQ quantizes to u8 (DynamicQuantizeLinear); act-type=s8 needs mode=static or granularity=row");
  EMBER_ASSIGN_OR_RETURN(s.observer.method, calibration::parse_calibration_method(o.method));
  s.observer.percentile = o.percentile;
  EMBER_TRY(calibration::check_observer_options(s.observer).with_context(p));
  s.smoothquant = o.smoothquant;
  if (!(s.smoothquant >= 0 && s.smoothquant <= 1)) return invalid_input(p + ": smoothquant (alpha) must be in [0, 1]; 0 turns it off");
  EMBER_ASSIGN_OR_RETURN(s.targets.ops, parse_op_list(o.ops, p));
  EMBER_ASSIGN_OR_RETURN(s.targets.exclude, parse_regex_option(o.exclude, p + ": exclude"));
  EMBER_ASSIGN_OR_RETURN(s.targets.include, parse_regex_option(o.include, p + ": include"));
  s.targets.act_act = o.act_act;
  s.batch = o.batch;
  s.calib_rows = o.calib_rows;
  if (s.batch < 0 || s.calib_rows < 0) return invalid_input(p + ": batch and calib-rows must be >= 0");
  return s;
}

// The element type the graph declares for a value, when it declares one.
std::optional<DType> declared_type(const ir::Graph& graph, const std::string& value) {
  for (const auto* list : {&graph.inputs, &graph.value_info, &graph.outputs})
    for (const auto& info : *list)
      if (info.name == value && info.elem_type != DType::kUndefined) return info.elem_type;
  return std::nullopt;
}

bool is_float(DType d) { return d == DType::kF32 || d == DType::kF16 || d == DType::kBF16; }

// The activation values to quantize and, per value, the (node, slot) pairs that read it.
using Uses = std::map<std::string, std::vector<std::pair<size_t, size_t>>>;

Uses collect_uses(const ir::Graph& graph, const std::vector<Target>& targets, bool require_declared_float) {
  static const std::set<std::string> kFloatByNature = {"MatMul", "Gemm", "Conv", "ConvTranspose"};
  Uses uses;
  for (const auto& t : targets) {
    const ir::Node& node = graph.nodes[t.node];
    for (size_t slot : t.inputs) {
      const std::string& x = node.inputs[slot];
      const std::optional<DType> type = declared_type(graph, x);
      if (type && !is_float(*type)) continue;
      if (!type && require_declared_float && !kFloatByNature.count(node.op_type)) continue;
      uses[x].emplace_back(t.node, slot);
    }
  }
  return uses;
}

size_t first_use(const std::vector<std::pair<size_t, size_t>>& readers) {
  size_t first = readers.front().first;
  for (const auto& [node, slot] : readers) first = std::min(first, node);
  return first;
}

void rewire(ir::Graph& graph, const std::vector<std::pair<size_t, size_t>>& readers, const std::string& to) {
  for (const auto& [node, slot] : readers) graph.nodes[node].inputs[slot] = to;
}

// X -> DynamicQuantizeLinear -> DequantizeLinear -> readers.
void insert_dynamic_qdq(ir::Graph& graph, const Uses& uses, GraphEdits& edits, NameMaker& names) {
  for (const auto& [x, readers] : uses) {
    const std::string q = names.make(x + "_quantized"), s = names.make(x + "_scale"), zp = names.make(x + "_zero_point");
    const std::string dq = names.make(x + "_dequantized");
    const size_t before = first_use(readers);
    edits.insert_before(before, make_node("DynamicQuantizeLinear", names.make(x + "_DynamicQuantizeLinear"), {x}, {q, s, zp}));
    edits.insert_before(before, make_node("DequantizeLinear", names.make(x + "_DequantizeLinear"), {q, s, zp}, {dq}));
    rewire(graph, readers, dq);
  }
}

// Dynamic QDQ inside If / Loop / Scan bodies (mode=dynamic needs no calibration, so a body's
// inputs are quantized like the main graph's); returns how many values were quantized.
size_t quantize_bodies_dynamic(ir::Model& model, const Settings& s) {
  std::vector<ir::Graph*> bodies;
  ir::for_each_graph(model.graph, [&](ir::Graph& g) {
    if (&g != &model.graph) bodies.push_back(&g);
  });
  if (bodies.empty()) return 0;
  size_t quantized = 0;
  for (ir::Graph* body : bodies) {
    GraphEdits edits;
    NameMaker names(*body);
    const Uses uses = collect_uses(*body, find_targets(*body, s.targets), true);
    insert_dynamic_qdq(*body, uses, edits, names);
    quantized += uses.size();
    edits.apply(*body);
  }
  return quantized;
}

Result<calibration::CalibrationResult> calibrate(const ir::Model& model, const calibration::CalibrationSet& given,
                                                 const Settings& s, const std::vector<std::string>& values) {
  calibration::CalibratorOptions co;
  co.observer = s.observer;
  co.values = values;
  co.max_rows = s.calib_rows;
  if (s.batch <= 0) return calibration::calibrate_values(model, given, co);
  // A different batch size: read the set again from its source.
  calibration::CalibrationOptions reopen;
  reopen.batch = s.batch;
  reopen.limit = s.calib_rows;
  EMBER_ASSIGN_OR_RETURN(auto set, calibration::CalibrationSet::open(given.source(), model.graph.feed_inputs(), reopen));
  return calibration::calibrate_values(model, set, co);
}

}  // namespace

std::vector<OptionSpec> QuantizeActivations::option_specs() { return option_table().specs(); }

Status QuantizeActivations::run(ir::Model& model, PassContext& ctx) {
  EMBER_ASSIGN_OR_RETURN(Settings s, read_settings(options_, name()));
  const int64_t opset = model.opset_version("");
  const int64_t needed = s.dynamic ? 11 : 10;
  if (opset < needed)
    return unsupported(std::string(name()) + ": the model imports opset " + std::to_string(opset) + " of the default domain; " +
                       (s.dynamic ? "DynamicQuantizeLinear needs 11" : "QuantizeLinear needs 10"));
  if (!s.dynamic && !ctx.calib)
    return invalid_input(std::string(name()) + ": mode=static needs a calibration set (ember opt --calib SET); mode=dynamic needs none");
  if (s.smoothquant > 0) {
    if (!ctx.calib) return invalid_input(std::string(name()) + ": smoothquant needs a calibration set (ember opt --calib SET)");
    SmoothOptions so;
    so.alpha = s.smoothquant;
    so.max_rows = s.calib_rows;
    EMBER_TRY(smooth_activations(model, *ctx.calib, so, &ctx.remarks, name()).status());
  }
  ir::Graph& graph = model.graph;
  const std::vector<Target> targets = find_targets(graph, s.targets);
  GraphEdits edits;
  NameMaker names(graph);
  size_t quantized = 0, integer_nodes = 0;

  if (!s.dynamic) {
    Uses uses = collect_uses(graph, targets, false);
    std::vector<std::string> values;
    for (const auto& [x, readers] : uses) values.push_back(x);
    EMBER_ASSIGN_OR_RETURN(calibration::CalibrationResult stats, calibrate(model, *ctx.calib, s, values));
    for (const auto& [x, why] : stats.skipped)
      ctx.remarks.note(name(), "kept '" + x + "' float: " + why);
    for (const auto& [x, readers] : uses) {
      auto it = stats.values.find(x);
      if (it == stats.values.end()) continue;
      const calibration::AffineParams p = calibration::affine_params(it->second.tensor.clip_lo, it->second.tensor.clip_hi, s.act_type);
      const std::string scale = names.make(x + "_scale"), zp = names.make(x + "_zero_point");
      graph.set_initializer(scale, Tensor::scalar<float>(p.scale));
      graph.set_initializer(zp, s.act_type == DType::kI8 ? Tensor::scalar<int8_t>(static_cast<int8_t>(p.zero_point))
                                                         : Tensor::scalar<uint8_t>(static_cast<uint8_t>(p.zero_point)));
      const std::string q = names.make(x + "_quantized"), dq = names.make(x + "_dequantized");
      const size_t before = first_use(readers);
      edits.insert_before(before, make_node("QuantizeLinear", names.make(x + "_QuantizeLinear"), {x, scale, zp}, {q}));
      edits.insert_before(before, make_node("DequantizeLinear", names.make(x + "_DequantizeLinear"), {q, scale, zp}, {dq}));
      rewire(graph, readers, dq);
      ++quantized;
    }
    edits.apply(graph);
  } else if (!s.ort) {
    const Uses uses = collect_uses(graph, targets, true);
    insert_dynamic_qdq(graph, uses, edits, names);
    quantized = uses.size();
    edits.apply(graph);
  } else {
    OrtDynamicRewriter ort(model, edits, names, s.per_row);
    std::vector<Target> fallback;
    for (const auto& t : targets) {
      EMBER_ASSIGN_OR_RETURN(bool rewritten, ort.rewrite(t));
      const ir::Node& node = graph.nodes[t.node];
      if (rewritten) {
        ++integer_nodes;
      } else if ((node.op_type == "MatMul" || node.op_type == "Gemm") && t.weight_input >= 0) {
        // A weight this form cannot read (e.g. a transposed tied embedding as LM head): the
        // linear stays float, as onnxruntime's quantize_dynamic leaves it.
        ctx.remarks.note(name(), "kept '" + node.name + "' float: its weight is not a 2-D initializer or DequantizeLinear of one");
      } else {
        fallback.push_back(t);  // Conv, and attention MatMuls with act-act: dynamic QDQ
      }
    }
    const Uses uses = collect_uses(graph, fallback, true);
    insert_dynamic_qdq(graph, uses, edits, names);
    quantized = uses.size();
    edits.apply(graph);
    remove_unread(graph, ort.maybe_unread_nodes(), ort.maybe_unread_initializers());
    ctx.remarks.count(name(), "rows-quantized-linears", ort.rows_quantized());
  }
  if (s.dynamic) {
    const size_t in_bodies = quantize_bodies_dynamic(model, s);
    if (in_bodies > 0) ctx.remarks.note(name(), std::to_string(in_bodies) + " activations inside subgraph bodies quantized with dynamic QDQ");
    quantized += in_bodies;
  }
  ctx.remarks.count(name(), "activations-qdq", static_cast<double>(quantized));
  ctx.remarks.count(name(), "integer-linears", static_cast<double>(integer_nodes));
  return Status::Ok();
}

}  // namespace ember::passes
