// Where activation quantization goes: the nodes of the chosen op types and which of their
// inputs are run-time activations, plus how each linear node's weight is stored. Shared by
// quantize-activations and smooth-quant.
//   MatMul, Gemm: inputs A and B; the constant one (an initializer, or DequantizeLinear of
//                 initializers as quantize-weights leaves it) is the weight. With two run-time
//                 inputs (attention) the node is a target only when act-act is allowed.
//   Conv:         input X (W and B are weights).
//   other ops:    every run-time input (opt-in through `ops`, e.g. Add for residuals).
// Nodes whose name or first output matches the exclude pattern are skipped.
#pragma once
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "ir/builders.h"
#include "ir/model.h"
#include "ir/status.h"
#include "ir/tensor.h"

namespace ember::passes::act_quant {

struct TargetOptions {
  std::set<std::string> ops = {"MatMul", "Gemm", "Conv"};
  std::optional<std::regex> exclude;
  std::optional<std::regex> include;  // when set, only nodes whose name (or first output) matches
  bool act_act = false;  // MatMuls whose two inputs are activations
};

// Parses "MatMul+Gemm+Conv".
Result<std::set<std::string>> parse_op_list(const std::string& text, const std::string& pass_name);
// Parses a regular expression option; empty text gives none.
Result<std::optional<std::regex>> parse_regex_option(const std::string& text, const std::string& what);

struct Target {
  size_t node = 0;                     // index in graph.nodes
  std::vector<size_t> inputs;          // input slots holding activations to quantize
  int weight_input = -1;               // MatMul/Gemm/Conv: slot of the constant weight
};

std::vector<Target> find_targets(const ir::Graph& graph, const TargetOptions& options);

// A linear node's weight: a float initializer, or DequantizeLinear of initializers.
struct WeightSource {
  enum class Kind { kOther, kFloat, kDequantized } kind = Kind::kOther;
  std::string initializer;     // kFloat: the float weight; kDequantized: the quantized data
  std::string scale, zero_point;  // kDequantized; zero_point empty when omitted
  int64_t axis = 1;            // kDequantized: DequantizeLinear's axis, normalised to >= 0
  int dq_node = -1;            // kDequantized: index of the DequantizeLinear node
};
WeightSource weight_source(const ir::Graph& graph, const std::string& value);

// Index of the node producing `value`, or -1 (graph input or initializer).
int producer_index(const ir::Graph& graph, const std::string& value);
// Nodes (indices) that read `value` in this graph, in order; subgraph reads are not listed.
std::vector<size_t> readers_of(const ir::Graph& graph, const std::string& value);
// True when `value` is read inside a subgraph of some node (so rewiring must keep it).
bool read_in_subgraph(const ir::Graph& graph, const std::string& value);

// Small node and attribute builders.
using ir::int_attribute;
using ir::ints_attribute;
using ir::make_node;

}  // namespace ember::passes::act_quant
