/* ember_rt.h: the C API of Ember's deployment runtime (link the static library ember_deploy).
 *
 * Two layers, the shape of ExecuTorch's BackendInterface:
 *   - the HAL: an ember_rt_backend is a table of functions (is_available, init, execute, deinit,
 *     get_power_consumption) registered by name. The CPU backend at each ISA level is built in
 *     ("cpu-scalar", "cpu-avx2", "cpu-avxvnni", "cpu-avx512"); "cpu" picks the best this CPU runs.
 *   - sessions: a model opened on a backend, run on tensors, closed.
 * Every function returns an ember_rt_status; the message of the last failure on the calling
 * thread is ember_rt_last_error(). Nothing here prints or exits.
 */
#ifndef EMBER_RT_H_
#define EMBER_RT_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  EMBER_RT_OK = 0,
  EMBER_RT_INVALID_INPUT = 2, /* bad model, manifest, tensor or argument: the caller can fix it */
  EMBER_RT_UNAVAILABLE = 4,   /* no such backend, or it cannot run on this machine */
  EMBER_RT_INTERNAL = 3
} ember_rt_status;

/* Element types use ONNX's TensorProto codes. */
typedef enum {
  EMBER_RT_FLOAT = 1,
  EMBER_RT_UINT8 = 2,
  EMBER_RT_INT8 = 3,
  EMBER_RT_INT32 = 6,
  EMBER_RT_INT64 = 7,
  EMBER_RT_BOOL = 9
} ember_rt_dtype;

#define EMBER_RT_MAX_RANK 8

/* A tensor view: the caller owns input data; output data belongs to the session (or the
 * backend handle) and stays valid until its next run or its destruction. */
typedef struct {
  const char* name;
  ember_rt_dtype dtype;
  int rank;
  int64_t shape[EMBER_RT_MAX_RANK];
  const void* data;
  size_t bytes;
} ember_rt_tensor;

typedef struct {
  const char* model_path;    /* ONNX model (required) */
  const char* manifest_path; /* NULL or a manifest.json the model must match */
  int threads;               /* <= 0: the manifest's figure, else all available cores; clamped */
  const char* sysfs_root;    /* NULL: "/sys"; tests point it at a fake tree */
} ember_rt_config;

/* Energy since init. measured = 1 when it comes from a hardware counter (RAPL, hwmon; these
 * cover the whole package, not this process alone), 0 when the energy model estimated it from
 * the work the backend did. */
typedef struct {
  double joules;
  double seconds;        /* wall time the backend spent executing */
  double average_watts;  /* joules / seconds, 0 before the first execute */
  uint64_t inferences;
  int measured;
  char source[64];       /* "rapl:intel-rapl:0", "hwmon:hwmon3/energy1_input", "energy-model" */
} ember_rt_power;

typedef struct ember_rt_backend {
  const char* name;
  /* 1 when this machine can run it. */
  int (*is_available)(void);
  /* Opens the model; *handle receives the backend's state. */
  ember_rt_status (*init)(const ember_rt_config* config, void** handle);
  /* Runs once. *outputs points at n_outputs tensors owned by the handle. */
  ember_rt_status (*execute)(void* handle, const ember_rt_tensor* inputs, size_t n_inputs, const ember_rt_tensor** outputs,
                             size_t* n_outputs);
  void (*deinit)(void* handle);
  ember_rt_status (*get_power_consumption)(void* handle, ember_rt_power* power);
} ember_rt_backend;

/* The registry. The table is copied; its name must outlive the process (a string literal).
 * Registering a name twice fails with EMBER_RT_INVALID_INPUT. */
ember_rt_status ember_rt_register_backend(const ember_rt_backend* backend);
const ember_rt_backend* ember_rt_find_backend(const char* name); /* NULL when unknown */
size_t ember_rt_backend_count(void);
const ember_rt_backend* ember_rt_backend_at(size_t index);

typedef struct ember_rt_session ember_rt_session;

/* backend: a registered name, "cpu" for the best CPU level, or NULL (= "cpu"). */
ember_rt_status ember_rt_session_create(const char* backend, const ember_rt_config* config, ember_rt_session** session);
ember_rt_status ember_rt_session_run(ember_rt_session* session, const ember_rt_tensor* inputs, size_t n_inputs,
                                     const ember_rt_tensor** outputs, size_t* n_outputs);
ember_rt_status ember_rt_session_power(ember_rt_session* session, ember_rt_power* power);
const char* ember_rt_session_backend(const ember_rt_session* session);
void ember_rt_session_destroy(ember_rt_session* session);

/* The message of the last failure on this thread ("" when none). */
const char* ember_rt_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* EMBER_RT_H_ */
