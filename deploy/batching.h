// Dynamic batching's tensor work: requests are compatible when they feed the same inputs with
// the same dtypes and the same shapes past the first (batch) dimension; their feeds are
// concatenated along dimension 0 and each output is split back by the requests' batch sizes.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ir/status.h"
#include "ir/tensor.h"

namespace ember::deploy {

using Feeds = std::map<std::string, Tensor>;

// Equal signatures mean batchable together.
std::string batch_signature(const Feeds& feeds);
// The batch dimension of a request (dim 0 of its first input; 0 when an input is a scalar).
int64_t batch_rows(const Feeds& feeds);

Result<Feeds> concat_batch(const std::vector<const Feeds*>& requests);
// Splits each output along dim 0 into pieces of `rows`; fails when an output's dim 0 is not
// their sum (a model whose graph fixes the batch size).
Result<std::vector<std::vector<Tensor>>> split_batch(const std::vector<Tensor>& outputs, const std::vector<int64_t>& rows);

}  // namespace ember::deploy
