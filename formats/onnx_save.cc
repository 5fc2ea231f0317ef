#include "formats/onnx_save.h"

#include <climits>
#include <cstdio>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <set>

#include "formats/atomic_file.h"
#include "formats/mapped_file.h"
#include "formats/model_to_proto.h"
#include "formats/tensor_proto.h"

namespace ember::formats {
namespace {

using google::protobuf::io::CodedOutputStream;
using google::protobuf::internal::WireFormatLite;

constexpr uint64_t kExternalAlignment = 64;
constexpr uint64_t kMaxProtobufBytes = INT_MAX;

// One main-graph initializer: its message without data, plus where its bytes go.
struct InitializerRecord {
  onnx::TensorProto header;          // name, dims, data_type; string_data or external entries
  const Tensor* tensor = nullptr;
  bool inline_raw = false;           // raw_data streamed right after the header
  uint64_t external_offset = 0;      // when stored in the external file
};

// The model split so that weights can be streamed: the model without its graph, the graph
// without its initializers, and the initializers. Field order differs from protobuf's
// canonical order (graph and initializers come last), which every parser accepts.
struct ModelLayout {
  onnx::ModelProto model_shell;
  onnx::GraphProto graph_shell;
  std::vector<InitializerRecord> initializers;
  std::vector<const InitializerRecord*> external;
  uint64_t external_bytes = 0;
};

uint32_t length_delimited_tag(int field) {
  return WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
}

uint64_t framed_size(int field, uint64_t payload) {
  return CodedOutputStream::VarintSize32(length_delimited_tag(field)) + CodedOutputStream::VarintSize64(payload) +
         payload;
}

uint64_t tensor_message_size(const InitializerRecord& r) {
  uint64_t size = r.header.ByteSizeLong();
  if (r.inline_raw) size += framed_size(onnx::TensorProto::kRawDataFieldNumber, r.tensor->nbytes());
  return size;
}

uint64_t graph_message_size(const ModelLayout& layout) {
  uint64_t size = layout.graph_shell.ByteSizeLong();
  for (const auto& r : layout.initializers)
    size += framed_size(onnx::GraphProto::kInitializerFieldNumber, tensor_message_size(r));
  return size;
}

uint64_t model_size(const ModelLayout& layout) {
  return layout.model_shell.ByteSizeLong() + framed_size(onnx::ModelProto::kGraphFieldNumber, graph_message_size(layout));
}

bool goes_external(const Tensor& t, size_t threshold) {
  return t.dtype() != DType::kString && t.nbytes() > 0 && t.nbytes() >= threshold;
}

// True when every tensor handed to `writer` is still one of the graph's external initializers
// (so its file holds no dead bytes).
bool writer_holds_only_live_tensors(const ir::Graph& graph, const ExternalDataWriter& writer, size_t threshold) {
  std::set<std::pair<const void*, size_t>> live;
  for (const auto& [name, tensor] : graph.initializers)
    if (goes_external(tensor, threshold) && writer.offset_of(tensor)) live.insert({tensor.raw(), tensor.nbytes()});
  return live.size() == writer.tensors();
}

// `location` set: initializers of at least `threshold` bytes go to that external file, at
// the offsets `writer` gave them when it was handed them, else after everything before them
// (and queued on `writer` when there is one).
Result<ModelLayout> plan_layout(const ir::Model& model, const std::string* location, size_t threshold,
                                ExternalDataWriter* writer = nullptr) {
  ModelLayout layout;
  EMBER_TRY(model_to_proto_without_initializers(model, &layout.model_shell));
  layout.graph_shell.Swap(layout.model_shell.mutable_graph());
  layout.model_shell.clear_graph();
  const auto initializers = ordered_initializers(model.graph);
  layout.initializers.resize(initializers.size());
  for (size_t i = 0; i < initializers.size(); ++i) {
    const auto& [name, tensor] = initializers[i];
    InitializerRecord& r = layout.initializers[i];
    r.tensor = tensor;
    if (tensor->dtype() == DType::kString) {
      EMBER_TRY(tensor_to_proto(*tensor, *name, &r.header));
      continue;
    }
    if (!tensor->defined() || tensor->nbytes() != storage_bytes(tensor->dtype(), tensor->numel()))
      return internal_error("initializer '" + *name + "' holds " + std::to_string(tensor->nbytes()) +
                            " bytes, which does not match its type and shape");
    tensor_header_to_proto(*tensor, *name, &r.header);
    if (location && goes_external(*tensor, threshold)) {
      if (writer) {
        const std::optional<uint64_t> offset = writer->append(*tensor);
        if (!offset) return internal_error("the external-data writer of '" + writer->path() + "' stopped early");
        r.external_offset = *offset;
      } else {
        r.external_offset = (layout.external_bytes + kExternalAlignment - 1) / kExternalAlignment * kExternalAlignment;
      }
      layout.external_bytes = std::max(layout.external_bytes, r.external_offset + tensor->nbytes());
      r.header.set_data_location(onnx::TensorProto::EXTERNAL);
      auto add_entry = [&](const std::string& key, const std::string& value) {
        auto* e = r.header.add_external_data();
        e->set_key(key);
        e->set_value(value);
      };
      add_entry("location", *location);
      add_entry("offset", std::to_string(r.external_offset));
      add_entry("length", std::to_string(tensor->nbytes()));
      layout.external.push_back(&r);
    } else {
      r.inline_raw = true;
    }
  }
  if (model_size(layout) > kMaxProtobufBytes)
    return unsupported("the model is larger than the 2 GB protobuf limit" +
                       std::string(location ? " even with its weights as external data" : "; save it with external data"));
  return layout;
}

Status write_layout(const ModelLayout& layout, google::protobuf::io::ZeroCopyOutputStream* stream) {
  CodedOutputStream coded(stream);
  coded.SetSerializationDeterministic(true);
  // ByteSizeLong caches sizes for SerializeWithCachedSizes; the shells are small.
  (void)layout.model_shell.ByteSizeLong();
  layout.model_shell.SerializeWithCachedSizes(&coded);
  coded.WriteTag(length_delimited_tag(onnx::ModelProto::kGraphFieldNumber));
  coded.WriteVarint64(graph_message_size(layout));
  layout.graph_shell.SerializeWithCachedSizes(&coded);
  for (const auto& r : layout.initializers) {
    coded.WriteTag(length_delimited_tag(onnx::GraphProto::kInitializerFieldNumber));
    coded.WriteVarint64(tensor_message_size(r));
    r.header.SerializeWithCachedSizes(&coded);
    if (!r.inline_raw) continue;
    coded.WriteTag(length_delimited_tag(onnx::TensorProto::kRawDataFieldNumber));
    coded.WriteVarint64(r.tensor->nbytes());
    coded.WriteRaw(r.tensor->raw(), static_cast<int>(r.tensor->nbytes()));
  }
  coded.Trim();
  if (coded.HadError()) return invalid_input("writing the model stream failed");
  return Status::Ok();
}

Status write_external_data(const ModelLayout& layout, std::ostream& out) {
  uint64_t cursor = 0;
  const char zeros[kExternalAlignment] = {};
  for (const InitializerRecord* r : layout.external) {
    out.write(zeros, static_cast<std::streamsize>(r->external_offset - cursor));
    out.write(static_cast<const char*>(r->tensor->raw()), static_cast<std::streamsize>(r->tensor->nbytes()));
    cursor = r->external_offset + r->tensor->nbytes();
  }
  return Status::Ok();
}

uint64_t total_initializer_bytes(const ir::Graph& graph) {
  uint64_t total = 0;
  for (const auto& [name, tensor] : graph.initializers) total += tensor.nbytes();
  return total;
}

std::string file_name_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The external-data file of a model saved at `model_path`: the name the model refers to, its
// path, and the temporary name it has until the model is saved beside it.
struct DataFilePaths {
  std::string location, path, partial;
};

Result<DataFilePaths> data_file_paths(const std::string& model_path, const SaveOptions& options) {
  DataFilePaths paths;
  const std::string& location = paths.location =
      options.external_data_name.empty() ? file_name_of(model_path) + ".data" : options.external_data_name;
  if (location.find('/') != std::string::npos || location == "." || location == "..")
    return invalid_input("external data name '" + location + "' must be a plain file name beside the model");
  if (location == file_name_of(model_path))
    return invalid_input("external data name '" + location + "' is the model file itself");
  const std::string dir = parent_directory(model_path);
  paths.path = dir.empty() ? location : (dir == "/" ? dir : dir + "/") + location;
  paths.partial = paths.path + ".partial";
  return paths;
}

}  // namespace

Result<std::unique_ptr<ExternalDataWriter>> start_external_data(const std::string& model_path, const SaveOptions& options) {
  EMBER_ASSIGN_OR_RETURN(const DataFilePaths paths, data_file_paths(model_path, options));
  return std::make_unique<ExternalDataWriter>(paths.partial, options.external_threshold);
}

Status save_onnx(const ir::Model& model, const std::string& path, const SaveOptions& options) {
  ExternalDataWriter* writer = options.data_writer;
  const bool external = writer || options.external_data || total_initializer_bytes(model.graph) > options.auto_external_above;
  DataFilePaths data;
  if (external) {
    EMBER_ASSIGN_OR_RETURN(data, data_file_paths(path, options));
  }
  if (writer && writer->path() != data.partial)
    return internal_error("cannot save '" + path + "': its external-data writer writes '" + writer->path() + "'");
  if (writer && !writer_holds_only_live_tensors(model.graph, *writer, options.external_threshold)) {
    writer->abandon();  // a later pass dropped a tensor it was handed: written afresh, without dead bytes
    writer = nullptr;
  }
  auto layout = plan_layout(model, external ? &data.location : nullptr, options.external_threshold, writer);
  if (!layout.ok()) return layout.status().with_context("cannot save '" + path + "'");
  const auto write_model = [&](std::ostream& out) {
    google::protobuf::io::OstreamOutputStream stream(&out);
    return write_layout(*layout, &stream);
  };
  if (layout->external.empty()) {
    if (writer) writer->abandon();
    return write_file_atomic(path, write_model);
  }
  // Both files are written whole under temporary names first, then renamed data first: a
  // failure (a full disk) leaves neither, and never a new data file beside an old model.
  const std::string model_partial = path + ".partial";
  if (writer) {
    EMBER_TRY(writer->finish().with_context("cannot save '" + path + "'"));
  } else {
    // Large external data skips the page cache (atomic_file.h: most of the cost of writing it).
    AtomicWriteOptions data_options;
    data_options.direct = layout->external_bytes >= options.direct_write_above;
    EMBER_TRY(write_file_atomic(data.partial, [&](std::ostream& out) { return write_external_data(*layout, out); },
                                data_options));
  }
  if (Status s = write_file_atomic(model_partial, write_model); !s.ok()) {
    std::remove(data.partial.c_str());
    return s.with_context("cannot save '" + path + "'");
  }
  if (std::rename(data.partial.c_str(), data.path.c_str()) != 0 || std::rename(model_partial.c_str(), path.c_str()) != 0) {
    std::remove(data.partial.c_str());
    std::remove(model_partial.c_str());
    return invalid_input("cannot save '" + path + "': renaming its files into place failed");
  }
  return Status::Ok();
}

Result<std::string> serialize_onnx(const ir::Model& model) {
  EMBER_ASSIGN_OR_RETURN(ModelLayout layout, plan_layout(model, nullptr, 0));
  std::string bytes;
  bytes.reserve(model_size(layout));
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    EMBER_TRY(write_layout(layout, &stream));
  }
  return bytes;
}

}  // namespace ember::formats
