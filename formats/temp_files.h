// Temporary files of atomic writes (atomic_file.h): a recognisable name, removal when the
// process is interrupted, and the cleaning of stale ones a killed run left behind.
//
// Name: "<target>.ember-tmp-<pid>-XXXXXX". A later write of the same target removes such files
// whose process no longer exists (and that belong to the same user), so an interrupted run
// (SIGKILL, power loss) cannot make them pile up; another user's files and files of a running
// process are left alone.
#pragma once
#include <string>

namespace ember::formats {

// The mkstemp template for a temporary file beside `target`.
std::string temporary_template(const std::string& target);

// Removes "<target>.ember-tmp-<pid>-*" regular files of this user whose process is gone.
// Best effort: errors are ignored. Returns how many were removed.
int remove_stale_temporaries(const std::string& target);

// While registered, a temporary file is removed by the SIGINT/SIGTERM handler. Returns a
// slot for unregister (or -1 when every slot is taken: the file is then not tracked).
int register_temporary(const std::string& path);
void unregister_temporary(int slot);

// Installs SIGINT and SIGTERM handlers that remove the registered temporary files and then
// die of the signal as they would have. Called once by the CLIs at start (library code does
// not install handlers behind the program's back). Handlers the program set are kept. SIGXFSZ
// is ignored, so exceeding a file-size limit is a write error (EFBIG) that removes the
// temporary file, not a death that leaves it.
void remove_temporaries_on_signals();

}  // namespace ember::formats
