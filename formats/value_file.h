// Values of any kind (ir/value.h) in the files a user hands the CLIs and gets back:
//   .npy  a tensor;
//   .npz  a sequence of tensors: entries arr_0, arr_1, ... (what np.savez(path, *tensors)
//         writes) or 0, 1, ..., in index order; an archive without entries is an empty sequence;
//   .pb   any value: a TensorProto, SequenceProto or OptionalProto (value_pb.h), nested
//         sequences and empty optionals included.
// A tensor or sequence given for an optional input is wrapped by the interpreter.
#pragma once
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/value.h"

namespace ember::formats {

// The value in `path` for the graph input `declared`, chosen by the file's extension (.npy
// for any other extension, as the CLIs read before sequences). A sequence longer than --max-sequence-length is invalid_input naming the file.
Result<Value> read_value_file(const std::string& path, const ir::ValueInfo& declared);

// How the CLIs write a sequence or optional output (tensors are always one .npy):
enum class ValueFileFormat {
  kNpy,  // one BASE.<i>.npy per tensor (BASE.<i>.<j>.npy nested); an optional as what it holds
  kNpz,  // one BASE.npz, entries arr_<i> (arr_<i>_<j> nested); an optional as what it holds
  kPb,   // one BASE.pb: a SequenceProto or OptionalProto, read back by read_value_file
};
Result<ValueFileFormat> parse_value_file_format(const std::string& name);  // "npy", "npz", "pb"

// Writes output `value` named `name` as `dir`/`base`... in `format`; returns the files written
// (none for an empty optional in npy/npz form; an empty sequence in npz form is an empty
// archive). Each file is written atomically.
Result<std::vector<std::string>> write_value_files(const std::string& dir, const std::string& base, const std::string& name,
                                                   const Value& value, ValueFileFormat format);

// The tensors a value holds, each with its path of indices ("" for a tensor, ".0", ".1.2"
// for sequence items), in order; an empty optional holds none.
std::vector<std::pair<std::string, Tensor>> tensors_with_index(const Value& value);

}  // namespace ember::formats
