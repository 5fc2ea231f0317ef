# Script tests: end-to-end CLI checks, interop with onnxruntime-node, shared-model checks.
# Exit code 77 means "skipped" (e.g. ../shared or npm absent) and ctest reports it as such.
# Label "sanitize" marks tests that also run in the ASan/UBSan build.
function(ember_script_test name script)
  cmake_parse_arguments(T "" "TIMEOUT" "LABELS;ARGS" ${ARGN})
  add_test(NAME ${name} COMMAND bash ${CMAKE_SOURCE_DIR}/${script} $<TARGET_FILE:ember> ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}"
    ENVIRONMENT "EMBER_BUILD_DIR=${CMAKE_BINARY_DIR};NODE_PATH=${CMAKE_SOURCE_DIR}/build/node/node_modules")
endfunction()

ember_script_test(cli_basics tests/e2e/cli_basics.sh LABELS "e2e;sanitize")
ember_script_test(interop_roundtrip tests/interop/roundtrip.sh LABELS "interop" TIMEOUT 900)
ember_script_test(interop_match_ort tests/interop/match_ort.sh LABELS "interop" TIMEOUT 900)
ember_script_test(interop_quantized tests/interop/quantized_ort.sh LABELS "interop" TIMEOUT 1200)
ember_script_test(interop_searched tests/interop/searched_ort.sh LABELS "interop" TIMEOUT 900)
ember_script_test(importance_cli tests/e2e/importance_cli.sh LABELS "e2e;sanitize" TIMEOUT 900)
ember_script_test(compress_samples tests/e2e/compress_samples.sh LABELS "e2e;sanitize" TIMEOUT 1200)
ember_script_test(compress_search tests/e2e/compress_search.sh LABELS "e2e;sanitize" TIMEOUT 900)
ember_script_test(search_prune_backoff tests/e2e/search_prune_backoff.sh LABELS "e2e" TIMEOUT 900)
ember_script_test(compress_latency tests/e2e/compress_latency.sh LABELS "e2e;sanitize" TIMEOUT 900)
# ../shared/DESIGN.md's layering: includes point only down the layers (and a wrong include fails).
ember_script_test(layering tests/layering/test_layering.sh LABELS "layering" TIMEOUT 120)
ember_script_test(hostile_inputs tests/e2e/hostile_inputs.sh LABELS "e2e;sanitize" TIMEOUT 900)
ember_script_test(ember_rt_deploy tests/e2e/ember_rt_deploy.sh LABELS "e2e" TIMEOUT 300)
ember_script_test(deploy_layering tests/e2e/deploy_layering.sh LABELS "e2e")
ember_script_test(real_models tests/realmodels/real_models.sh LABELS "interop" TIMEOUT 1500)
ember_script_test(scale_cli tests/e2e/scale_cli.sh LABELS "e2e")
ember_script_test(prune_cli tests/e2e/prune_cli.sh LABELS "e2e;sanitize" TIMEOUT 600)
ember_script_test(interop_pruned tests/interop/pruned_ort.sh LABELS "interop" TIMEOUT 600)
ember_script_test(interop_free_batch tests/interop/free_batch_ort.sh LABELS "interop" TIMEOUT 600)
ember_script_test(serve_hostile tests/e2e/serve_hostile.sh LABELS "e2e;sanitize" TIMEOUT 300)
ember_script_test(report_html tests/e2e/report_html.sh LABELS "e2e" TIMEOUT 600)
ember_script_test(recipe_cli tests/e2e/recipe_cli.sh LABELS "e2e;sanitize" TIMEOUT 300)
ember_script_test(prune_channels_cli tests/e2e/prune_channels_cli.sh LABELS "e2e;sanitize" TIMEOUT 600)
ember_script_test(fidelity_cli tests/e2e/fidelity_cli.sh LABELS "e2e;sanitize" TIMEOUT 900)
# Gated FFN and grouped-query attention pruning on a tiny Llama written by make_tiny_llama (issue 15).
ember_script_test(prune_llama_cli tests/e2e/prune_llama_cli.sh ARGS $<TARGET_FILE:make_tiny_llama> LABELS "e2e" TIMEOUT 600)
ember_script_test(interop_pruned_llama tests/interop/pruned_llama_ort.sh ARGS $<TARGET_FILE:make_tiny_llama> LABELS "interop" TIMEOUT 600)
# Channels tied by Concat pruned jointly on a SqueezeNet-shaped CNN written by make_fire_cnn (issue 15).
ember_script_test(prune_concat_cli tests/e2e/prune_concat_cli.sh ARGS $<TARGET_FILE:make_fire_cnn> LABELS "e2e" TIMEOUT 600)
ember_script_test(sequence_cli tests/e2e/sequence_cli.sh LABELS "e2e;sanitize" TIMEOUT 300)
# `ember importance` scores weights read inside a Scan body as in the network unrolled (issue 17).
ember_script_test(importance_loop_scan tests/e2e/importance_loop_scan.sh ARGS $<TARGET_FILE:make_loop_scan_models> LABELS "e2e;sanitize" TIMEOUT 300)
# Weights inside Loop / Scan bodies: counted, quantized, predicted, searched; onnxruntime when installed (issue 17).
ember_script_test(body_weights tests/e2e/body_weights.sh ARGS $<TARGET_FILE:make_loop_scan_models> LABELS "e2e;interop" TIMEOUT 600)
ember_script_test(importance_sequence tests/e2e/importance_sequence.sh ARGS $<TARGET_FILE:make_sequence_models> LABELS "e2e;sanitize" TIMEOUT 300)
ember_script_test(sequence_rt tests/e2e/sequence_rt.sh LABELS "e2e;sanitize" TIMEOUT 300)
