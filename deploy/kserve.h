// The Open Inference Protocol (KServe v2) JSON encoding: an infer request's tensors checked
// against the model's inputs, and the response. Bad requests give invalid_input naming the
// input ("input 'input_ids': shape [1,x] ...").
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "deploy/batching.h"
#include "deploy/deployment_config.h"
#include "ir/model.h"

namespace ember::deploy {

struct InferRequest {
  std::string id;
  Feeds feeds;
  std::optional<Tier> priority;          // the "priority" parameter, when given
  std::optional<int> timeout_ms;         // the "timeout_ms" parameter, when given
};

// "INT64", "FP32", ... for a dtype; nullopt for types the JSON API does not carry.
std::optional<std::string> kserve_datatype(DType dtype);

Result<InferRequest> parse_infer_request(const std::string& body, const std::vector<const ir::ValueInfo*>& inputs);
// The infer response as JSON text, written directly (a short GPT-2 answer has thousands of
// floats); `parameters` (an object, or null for none) is added as "parameters".
std::string infer_response_text(const std::string& model_name, const std::string& id, const std::vector<std::string>& names,
                                const std::vector<Tensor>& outputs, const nlohmann::json& parameters);
// The same, parsed back (tests and the fuzz target read it as a json value).
nlohmann::json infer_response(const std::string& model_name, const std::string& id, const std::vector<std::string>& names,
                              const std::vector<Tensor>& outputs);
// GET /v2/models/{name}: name, platform, inputs and outputs with datatype and shape (-1 dynamic).
nlohmann::json model_metadata(const std::string& model_name, const ir::Model& model, const std::vector<const ir::ValueInfo*>& inputs);

}  // namespace ember::deploy
