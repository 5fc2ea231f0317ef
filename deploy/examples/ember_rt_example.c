/* ember_rt_example: classify one 8x8 digit image with Ember's C API.
 *   ember_rt_example MODEL.onnx [BACKEND]
 * Lists the backends this machine runs, opens the model on BACKEND (default "cpu"), runs one
 * synthetic image (a vertical bar), prints the logits, the predicted class and the energy. */
#include <stdio.h>
#include <string.h>

#include "deploy/ember_rt.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.onnx [BACKEND]\n", argv[0]);
    return 2;
  }
  for (size_t i = 0; i < ember_rt_backend_count(); ++i) {
    const ember_rt_backend* b = ember_rt_backend_at(i);
    printf("backend %-12s %s\n", b->name, b->is_available() ? "available" : "not on this CPU");
  }
  ember_rt_config config;
  memset(&config, 0, sizeof config);
  config.model_path = argv[1];
  config.threads = 1;
  ember_rt_session* session = NULL;
  if (ember_rt_session_create(argc > 2 ? argv[2] : "cpu", &config, &session) != EMBER_RT_OK) {
    fprintf(stderr, "ember_rt_example: %s\n", ember_rt_last_error());
    return 2;
  }
  float image[64] = {0};
  for (int row = 1; row < 7; ++row) image[row * 8 + 4] = 1.0f;
  ember_rt_tensor input;
  memset(&input, 0, sizeof input);
  input.name = "image";
  input.dtype = EMBER_RT_FLOAT;
  input.rank = 4;
  input.shape[0] = 1, input.shape[1] = 1, input.shape[2] = 8, input.shape[3] = 8;
  input.data = image;
  input.bytes = sizeof image;
  const ember_rt_tensor* outputs = NULL;
  size_t n_outputs = 0;
  if (ember_rt_session_run(session, &input, 1, &outputs, &n_outputs) != EMBER_RT_OK || n_outputs != 1 ||
      outputs[0].dtype != EMBER_RT_FLOAT) {
    fprintf(stderr, "ember_rt_example: %s\n", ember_rt_last_error());
    ember_rt_session_destroy(session);
    return 2;
  }
  const float* logits = (const float*)outputs[0].data;
  int best = 0;
  for (int k = 0; k < 10; ++k) {
    printf("%s%.3f", k ? " " : "logits: ", logits[k]);
    if (logits[k] > logits[best]) best = k;
  }
  ember_rt_power power;
  ember_rt_session_power(session, &power);
  printf("\nclass %d on %s; %.3g J over %llu inference(s), %s (%s)\n", best, ember_rt_session_backend(session), power.joules,
         (unsigned long long)power.inferences, power.measured ? "measured" : "estimated", power.source);
  ember_rt_session_destroy(session);
  return 0;
}
