// Feeding and writing values of any kind (tensors, sequences, optionals; ir/value.h) from
// the command line, shared by `ember run` and `ember-rt run`:
//   --input NAME=FILE   .npy (a tensor), .npz (a sequence of tensors, entries arr_0, arr_1,
//                       ...), .pb (a TensorProto, SequenceProto or OptionalProto: any value,
//                       nested sequences and empty optionals included);
//   --sequence-format   how sequence and optional outputs are written (formats/value_file.h).
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "formats/value_file.h"
#include "ir/model.h"
#include "ir/value.h"

namespace ember::cli {

inline constexpr const char* kInputHelp =
    "An input as name=FILE (repeat per input): FILE.npy for a tensor, FILE.npz for a sequence of tensors "
    "(entries arr_0, arr_1, ... in order, as np.savez(f, *tensors) writes), FILE.pb for any value (a TensorProto, "
    "SequenceProto or OptionalProto as in the ONNX test data: nested sequences, empty optionals). A tensor or "
    "sequence given for an optional input is wrapped";
inline constexpr const char* kSequenceFormatHelp =
    "How a sequence or optional output is written with --output-dir: npy (one <name>.<i>.npy per tensor, "
    "<name>.<i>.<j>.npy when nested), npz (one <name>.npz, entries arr_<i>), pb (one <name>.pb SequenceProto or "
    "OptionalProto, readable again by --input); tensors are always <name>.npy";

// The feeds `specs` name, each read as its graph input is declared; an unknown name is
// invalid_input listing the model's inputs, a bad file invalid_input naming the input.
Result<std::map<std::string, Value>> read_input_values(const std::vector<std::string>& specs,
                                                       const std::vector<const ir::ValueInfo*>& inputs);

// One output as JSON: a tensor {name, kind, dtype, shape, min, max, mean}, a sequence or
// optional {name, kind, type, length | has_element, elements: [the tensors as above, named
// NAME.0, NAME.0.1, ...]}; with `output_dir`, written there in `format` and the paths listed
// under "files" (and "file" for a tensor).
Result<nlohmann::json> emit_output(const std::string& name, const Value& value, const std::string& output_dir,
                                   formats::ValueFileFormat format);
// The outputs as text, one line per tensor (a sequence's tensors as NAME.<i>), after one
// line "NAME: <what the value is>" for a sequence or an optional.
std::string outputs_text(const nlohmann::json& outputs);

}  // namespace ember::cli
