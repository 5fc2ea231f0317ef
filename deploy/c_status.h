// Between Status and the C API: the code a Status maps to, and the calling thread's last error
// message (ember_rt_last_error).
#pragma once
#include <string>

#include "deploy/ember_rt.h"
#include "ir/status.h"

namespace ember::deploy {

// Records the message (when not ok) and returns the C status code.
ember_rt_status to_c_status(const Status& status);
ember_rt_status c_error(ember_rt_status code, const std::string& message);

}  // namespace ember::deploy
