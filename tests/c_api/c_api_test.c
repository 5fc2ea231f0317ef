/* The C API, compiled as C and linked with ember_deploy only: the registry (built-in CPU
 * backends, registering a custom backend, refusing a duplicate), sessions, tensor validation,
 * errors and the power report. Exit 0 when every check passes. Argument: digits-cnn.onnx. */
#include <stdio.h>
#include <string.h>

#include "deploy/ember_rt.h"

static int failures = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "FAIL line %d: %s (%s)\n", __LINE__, #cond, ember_rt_last_error()); \
      ++failures;                                                     \
    }                                                                 \
  } while (0)

static int fake_executions = 0;
static int fake_available(void) { return 1; }
static ember_rt_status fake_init(const ember_rt_config* config, void** handle) {
  (void)config;
  *handle = &fake_executions;
  return EMBER_RT_OK;
}
static ember_rt_status fake_execute(void* handle, const ember_rt_tensor* inputs, size_t n_inputs, const ember_rt_tensor** outputs,
                                    size_t* n_outputs) {
  (void)inputs, (void)n_inputs;
  ++*(int*)handle;
  *outputs = NULL;
  *n_outputs = 0;
  return EMBER_RT_OK;
}
static void fake_deinit(void* handle) { (void)handle; }
static ember_rt_status fake_power(void* handle, ember_rt_power* power) {
  memset(power, 0, sizeof *power);
  power->inferences = (uint64_t)*(int*)handle;
  strcpy(power->source, "fake");
  return EMBER_RT_OK;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  CHECK(ember_rt_backend_count() >= 5);
  CHECK(ember_rt_find_backend("cpu") != NULL);
  CHECK(ember_rt_find_backend("cpu-scalar") != NULL && ember_rt_find_backend("cpu-scalar")->is_available());
  CHECK(ember_rt_find_backend("npu") == NULL);

  ember_rt_backend fake = {"fake-npu", fake_available, fake_init, fake_execute, fake_deinit, fake_power};
  CHECK(ember_rt_register_backend(&fake) == EMBER_RT_OK);
  CHECK(ember_rt_register_backend(&fake) == EMBER_RT_INVALID_INPUT);
  ember_rt_session* s = NULL;
  ember_rt_config config;
  memset(&config, 0, sizeof config);
  config.model_path = argv[1];
  CHECK(ember_rt_session_create("fake-npu", &config, &s) == EMBER_RT_OK);
  const ember_rt_tensor* outputs = NULL;
  size_t n = 0;
  CHECK(ember_rt_session_run(s, NULL, 0, &outputs, &n) == EMBER_RT_OK);
  ember_rt_power power;
  CHECK(ember_rt_session_power(s, &power) == EMBER_RT_OK && power.inferences == 1);
  ember_rt_session_destroy(s);

  CHECK(ember_rt_session_create("npu", &config, &s) == EMBER_RT_UNAVAILABLE);
  CHECK(strstr(ember_rt_last_error(), "npu") != NULL);
  config.model_path = "/nonexistent/model.onnx";
  CHECK(ember_rt_session_create("cpu-scalar", &config, &s) == EMBER_RT_INVALID_INPUT);
  CHECK(strstr(ember_rt_last_error(), "/nonexistent/model.onnx") != NULL);

  config.model_path = argv[1];
  config.threads = 1000; /* clamped to the cores available */
  CHECK(ember_rt_session_create("cpu-scalar", &config, &s) == EMBER_RT_OK);
  CHECK(strcmp(ember_rt_session_backend(s), "cpu-scalar") == 0);
  float image[64];
  for (int i = 0; i < 64; ++i) image[i] = (float)(i % 5) / 4.0f;
  ember_rt_tensor in;
  memset(&in, 0, sizeof in);
  in.name = "image";
  in.dtype = EMBER_RT_FLOAT;
  in.rank = 4;
  in.shape[0] = 1, in.shape[1] = 1, in.shape[2] = 8, in.shape[3] = 8;
  in.data = image;
  in.bytes = sizeof image;
  CHECK(ember_rt_session_run(s, &in, 1, &outputs, &n) == EMBER_RT_OK);
  CHECK(n == 1 && outputs[0].rank == 2 && outputs[0].shape[1] == 10 && outputs[0].bytes == 40);
  in.bytes = 12; /* does not match the shape */
  CHECK(ember_rt_session_run(s, &in, 1, &outputs, &n) == EMBER_RT_INVALID_INPUT);
  CHECK(strstr(ember_rt_last_error(), "image") != NULL);
  float wide[72] = {0}; /* a shape the model does not take, with the bytes it needs */
  in.shape[3] = 9;
  in.data = wide;
  in.bytes = sizeof wide;
  CHECK(ember_rt_session_run(s, &in, 1, &outputs, &n) == EMBER_RT_INVALID_INPUT);
  CHECK(strstr(ember_rt_last_error(), "image") != NULL);
  CHECK(ember_rt_session_power(s, &power) == EMBER_RT_OK);
  CHECK(power.inferences == 1 && power.measured == 0 && power.joules > 0 && strcmp(power.source, "energy-model") == 0);
  ember_rt_session_destroy(s);
  if (failures == 0) printf("c_api_test: all checks passed\n");
  return failures ? 1 : 0;
}
