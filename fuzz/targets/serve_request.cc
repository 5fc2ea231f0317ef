// Fuzz target: what ember-rt serve reads from an HTTP request (deploy/serve_request.h): the
// model name of the path, the X-Ember-Priority header and the KServe v2 JSON body, decoded
// against a model's inputs, then the answer printed as the server prints it. The input is
//   <signature byte> <model name> '\n' <header value, or "-" for none> '\n' <body>
// where the signature byte picks the inputs: the digits CNN's image, the GPT-2 sample's
// input_ids, or one input of each datatype (shapes partly unknown). Every answer must be JSON.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "deploy/serve_request.h"
#include "fuzz/fuzz_support.h"

namespace {

using namespace ember;

ir::ValueInfo input(const std::string& name, DType type, std::vector<int64_t> dims, bool has_shape = true) {
  ir::ValueInfo v;
  v.name = name;
  v.elem_type = type;
  v.has_shape = has_shape;
  for (int64_t d : dims) v.dims.push_back(ir::Dim{d, d < 0 ? "batch" : ""});
  return v;
}

const std::vector<std::vector<ir::ValueInfo>>& signatures() {
  static const std::vector<std::vector<ir::ValueInfo>> all = {
      {input("image", DType::kF32, {-1, 1, 8, 8})},
      {input("input_ids", DType::kI64, {-1, -1})},
      {input("x", DType::kF64, {-1, 2}), input("n", DType::kI32, {-1}), input("b", DType::kI8, {-1}),
       input("u", DType::kU8, {}, false), input("flag", DType::kBool, {}), input("f", DType::kF32, {-1, -1, -1})}};
  return all;
}

// Splits off the text up to the next '\n' (all of it when there is none).
std::string take_line(std::string& rest) {
  const size_t end = rest.find('\n');
  std::string line = rest.substr(0, end);
  rest = end == std::string::npos ? "" : rest.substr(end + 1);
  return line;
}

void must_be_json(const std::string& text) {
  if (nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false).is_discarded()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool limited = (fuzz::use_fuzzing_limits(), true);
  (void)limited;
  if (size == 0) return 0;
  const auto& signature = signatures()[data[0] % 3];
  std::vector<const ir::ValueInfo*> inputs;
  for (const auto& v : signature) inputs.push_back(&v);
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string model = take_line(rest);
  const std::string header_line = take_line(rest);
  const std::optional<std::string> header = header_line == "-" ? std::nullopt : std::optional<std::string>(header_line);

  if (Status known = deploy::check_model_name(model, "digits"); !known.ok()) must_be_json(deploy::error_body(known.message()));
  auto call = deploy::decode_infer_call(header, rest, inputs, 10000);
  if (!call.ok()) {
    must_be_json(deploy::error_body(call.status().message()));
    return 0;
  }
  // Echo the decoded tensors as outputs: the response printer sees every datatype.
  std::vector<std::string> names;
  std::vector<Tensor> tensors;
  for (const auto& [name, tensor] : call->feeds) names.push_back(name), tensors.push_back(tensor);
  nlohmann::json response = deploy::infer_response(model, call->id, names, tensors);
  response["parameters"] = {{"priority", deploy::tier_name(call->tier)}, {"timeout_ms", call->timeout_ms}};
  must_be_json(deploy::json_body(response));
  return 0;
}
