// ember inspect MODEL [--json]: what a model contains, without running it.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "tools/common/cli_checks.h"
#include "tools/ember/cli_common.h"

namespace ember::cli {
namespace {

struct InspectOptions {
  std::string model;
  bool json = false;
  int top = 10;
};

std::string dims_text(const ir::ValueInfo& v) {
  if (!v.is_tensor) return "(non-tensor)";
  if (!v.has_shape) return "[?]";
  std::string s = "[";
  for (size_t i = 0; i < v.dims.size(); ++i)
    s += (i ? ", " : "") + (v.dims[i].value >= 0 ? std::to_string(v.dims[i].value) : (v.dims[i].param.empty() ? "?" : v.dims[i].param));
  return s + "]";
}

nlohmann::json describe(const ir::Model& model, const std::string& path, int top) {
  using nlohmann::json;
  json j;
  j["file"] = path;
  j["file_bytes"] = std::filesystem::file_size(path);
  j["ir_version"] = model.ir_version;
  j["producer"] = model.producer_name + (model.producer_version.empty() ? "" : " " + model.producer_version);
  json opsets = json::object();
  for (const auto& o : model.opset_imports) opsets[o.domain.empty() ? "ai.onnx" : o.domain] = o.version;
  j["opsets"] = opsets;
  for (const char* kind : {"inputs", "outputs"}) {
    json list = json::array();
    const auto& values = std::string(kind) == "inputs" ? model.graph.feed_inputs() : std::vector<const ir::ValueInfo*>{};
    std::vector<const ir::ValueInfo*> outs;
    for (const auto& o : model.graph.outputs) outs.push_back(&o);
    for (const auto* v : std::string(kind) == "inputs" ? values : outs)
      list.push_back({{"name", v->name}, {"dtype", std::string(dtype_name(v->elem_type))}, {"shape", dims_text(*v)}});
    j[kind] = list;
  }
  std::map<std::string, std::map<std::string, int>> histogram;
  size_t node_count = 0;
  ir::for_each_graph(const_cast<ir::Graph&>(model.graph), [&](ir::Graph& g) {
    for (const auto& n : g.nodes) {
      ++histogram[n.domain.empty() ? "ai.onnx" : n.domain][n.op_type];
      ++node_count;
    }
  });
  j["node_count"] = node_count;
  j["ops"] = histogram;
  std::map<std::string, std::pair<int64_t, size_t>> per_dtype;  // dtype -> params, bytes
  std::vector<std::pair<size_t, std::string>> sizes;
  std::map<std::string, const Tensor*> tensors;  // by name, for the largest ones
  int64_t params = 0, in_subgraphs = 0, in_constants = 0;
  size_t bytes = 0;
  auto add = [&](const std::string& name, const Tensor& t) {
    auto& entry = per_dtype[std::string(dtype_name(t.dtype()))];
    entry.first += t.numel();
    entry.second += t.nbytes();
    params += t.numel();
    bytes += t.nbytes();
    if (tensors.emplace(name, &t).second) sizes.emplace_back(t.nbytes(), name);
  };
  // Weights count wherever the exporter put them: initializers of the main graph and of
  // subgraph bodies, and float tensors held in Constant nodes (paddle2onnx, spox).
  ir::for_each_graph(const_cast<ir::Graph&>(model.graph), [&](ir::Graph& g) {
    const bool body = &g != &model.graph;
    for (const auto& [name, t] : g.initializers) {
      add(name, t);
      if (body) in_subgraphs += t.numel();
    }
    for (const auto& n : g.nodes)
      if (n.op_type == "Constant" && n.attributes.size() == 1 && n.attributes[0].name == "value" &&
          n.attributes[0].t.defined() && traits(n.attributes[0].t.dtype()).is_float && n.outputs.size() == 1) {
        add(n.outputs[0], n.attributes[0].t);
        in_constants += n.attributes[0].t.numel();
        if (body) in_subgraphs += n.attributes[0].t.numel();
      }
  });
  j["parameters_in_subgraphs"] = in_subgraphs;
  j["parameters_in_constant_nodes"] = in_constants;
  j["parameters"] = params;
  j["parameter_bytes"] = bytes;
  json by_dtype = json::object();
  for (const auto& [d, pb] : per_dtype) by_dtype[d] = {{"parameters", pb.first}, {"bytes", pb.second}};
  j["parameters_by_dtype"] = by_dtype;
  std::sort(sizes.begin(), sizes.end(), [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  json largest = json::array();
  for (size_t i = 0; i < sizes.size() && i < static_cast<size_t>(top); ++i) {
    const Tensor& t = *tensors.at(sizes[i].second);
    largest.push_back({{"name", sizes[i].second}, {"dtype", std::string(dtype_name(t.dtype()))},
                       {"shape", shape_to_string(t.shape())}, {"bytes", t.nbytes()}});
  }
  j["largest_tensors"] = largest;
  std::map<std::string, int> external;
  for (const auto& [name, file] : model.graph.external_locations) ++external[file];
  j["external_data"] = {{"tensors", model.graph.external_locations.size()}, {"files", external}};
  j["functions"] = model.opaque_functions.size();
  j["metadata_props"] = model.metadata_props.size();
  return j;
}

void print_text(const nlohmann::json& j) {
  std::printf("%s  (%s, IR %d, producer %s)\n", j["file"].get<std::string>().c_str(),
              human_bytes(j["file_bytes"].get<double>()).c_str(), j["ir_version"].get<int>(), j["producer"].get<std::string>().c_str());
  std::printf("opsets:");
  for (auto& [d, v] : j["opsets"].items()) std::printf(" %s=%d", d.c_str(), v.get<int>());
  std::printf("\n\n");
  for (const char* kind : {"inputs", "outputs"}) {
    std::printf("%s:\n", kind);
    for (const auto& v : j[kind])
      std::printf("  %-24s %-5s %s\n", v["name"].get<std::string>().c_str(), v["dtype"].get<std::string>().c_str(),
                  v["shape"].get<std::string>().c_str());
  }
  std::printf("\nops (%d nodes):\n", j["node_count"].get<int>());
  for (auto& [domain, ops] : j["ops"].items()) {
    std::vector<std::pair<int, std::string>> sorted;
    for (auto& [op, n] : ops.items()) sorted.emplace_back(n.get<int>(), op);
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    std::printf("  [%s]\n", domain.c_str());
    for (const auto& [n, op] : sorted) std::printf("    %-28s %d\n", op.c_str(), n);
  }
  std::printf("\nparameters: %lld (%s)", j["parameters"].get<long long>(), human_bytes(j["parameter_bytes"].get<double>()).c_str());
  if (j["parameters_in_subgraphs"].get<long long>() > 0 || j["parameters_in_constant_nodes"].get<long long>() > 0)
    std::printf(", of which %lld in subgraph bodies, %lld in Constant nodes", j["parameters_in_subgraphs"].get<long long>(),
                j["parameters_in_constant_nodes"].get<long long>());
  std::printf("\n");
  for (auto& [d, pb] : j["parameters_by_dtype"].items())
    std::printf("  %-6s %12lld params  %s\n", d.c_str(), pb["parameters"].get<long long>(), human_bytes(pb["bytes"].get<double>()).c_str());
  std::printf("\nlargest tensors:\n");
  for (const auto& t : j["largest_tensors"])
    std::printf("  %-44s %-5s %-16s %s\n", t["name"].get<std::string>().c_str(), t["dtype"].get<std::string>().c_str(),
                t["shape"].get<std::string>().c_str(), human_bytes(t["bytes"].get<double>()).c_str());
  const int ext = j["external_data"]["tensors"].get<int>();
  if (ext == 0) {
    std::printf("\nexternal data: none\n");
  } else {
    std::printf("\nexternal data: %d tensors in", ext);
    for (auto& [f, n] : j["external_data"]["files"].items()) std::printf(" %s (%d)", f.c_str(), n.get<int>());
    std::printf("\n");
  }
}

int run_inspect(const InspectOptions& opts) {
  auto model = load_model(opts.model);
  if (!model.ok()) return report(model.status());
  const nlohmann::json j = describe(*model, opts.model, opts.top);
  if (opts.json)
    std::printf("%s\n", json_text(j).c_str());
  else
    print_text(j);
  return kExitOk;
}

}  // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<InspectOptions>();
  CLI::App* sub = app.add_subcommand("inspect", "Show a model's opsets, inputs and outputs, op histogram, parameters and largest tensors");
  sub->add_option("model", opts->model, "The ONNX model to inspect")->required();
  sub->add_flag("--json", opts->json, "Print machine-readable JSON instead of text");
  sub->add_option("--top", opts->top, "How many of the largest tensors to list")->default_val(10)->check(CountIn(0, INT32_MAX));
  sub->final_callback([opts, &exit_code] { exit_code = run_inspect(*opts); });
}

}  // namespace ember::cli
