// Importance benchmark (issue 6): does the Fisher-predicted INT4 sensitivity rank layers the
// way real quantization hurts them, and what does computing it cost?
//   1. Cost: forward passes alone (runtime::Interpreter) over N calibration rows, then
//      `compute_importance` over the same rows, then the forward passes again (the baseline is
//      the mean of both, the machine being shared); wall and CPU time, peak RSS of importance.
//      Two baselines: the graph as the gradient pass runs it (no float fusions, so every value
//      the backward rules read exists), and Ember's fastest forward, with the float fusions
//      (attention, GELU, LayerNorm) that `ember run` and `ember eval` use.
//   2. Quality: every linear/conv layer alone is quantized to INT4 (block 32, symmetric round
//      to nearest, the same quantizer the prediction assumes) and dequantized back into the
//      FP32 graph; its bits-per-byte increase on the eval set is measured and ranked against
//      the predicted increase (Spearman). Two baselines are ranked too: the plain squared
//      quantization error sum dw^2, and the tensor's Taylor score.
//   3. With --compare-f32: importance again with f32 backward products, timed the same way,
//      and how far the bf16 products moved the scores (rank agreement of the layers'
//      predicted INT4 increases, largest relative change of any tensor's scores).
// Usage: importance_correlation MODEL CALIB EVAL [--rows 512] [--eval-rows 96] [--threads 0]
//                               [--grad-precision bf16|f32] [--compare-f32] [--no-timing] [--no-correlation]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "calibration/dataset.h"
#include "calibration/evaluation.h"
#include "formats/onnx_load.h"
#include "passes/analysis/importance.h"
#include "passes/analysis/quant_sensitivity.h"
#include "passes/quantize/quant_math.h"
#include "runtime/interpreter.h"

namespace {

using namespace ember;
namespace pa = passes::analysis;

double wall_now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Peak RSS since the last reset, in bytes (Linux: VmHWM; "5" > clear_refs resets it).
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }
double peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) * 1024.0;
  return 0;
}

void die(const Status& s) {
  std::fprintf(stderr, "importance_correlation: %s\n", s.message().c_str());
  std::exit(1);
}

struct Timing {
  double wall = 0, cpu = 0;
};

Timing forward_alone(const ir::Model& model, const std::string& calib, int64_t rows, int threads, bool fused) {
  runtime::InterpreterOptions io;
  io.threads = threads;
  io.fuse_float = fused;
  auto interp = runtime::Interpreter::create(model, io);
  if (!interp.ok()) die(interp.status());
  calibration::CalibrationOptions co;
  co.batch = 1;
  co.limit = rows;
  auto set = calibration::CalibrationSet::open(calib, (*interp)->feed_inputs(), co);
  if (!set.ok()) die(set.status());
  const double w0 = wall_now(), c0 = cpu_now();
  for (int64_t b = 0; b < set->num_batches(); ++b) {
    auto out = (*interp)->run(set->batch(b));
    if (!out.ok()) die(out.status());
  }
  return {wall_now() - w0, cpu_now() - c0};
}

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < order.size();) {  // ties share their mean rank
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (size_t k = i; k <= j; ++k) r[order[k]] = 0.5 * static_cast<double>(i + j);
    i = j + 1;
  }
  return r;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) ma += a[i] / n, mb += b[i] / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) { return pearson(ranks(a), ranks(b)); }

double eval_bpb(const ir::Model& model, const std::string& eval, int64_t rows, int threads) {
  runtime::InterpreterOptions io;
  io.threads = threads;
  auto interp = runtime::Interpreter::create(model, io);
  if (!interp.ok()) die(interp.status());
  calibration::EvalOptions eo;
  eo.task = calibration::EvalTask::kLanguageModel;
  eo.limit = rows;
  auto r = calibration::evaluate(**interp, eval, eo);
  if (!r.ok()) die(r.status());
  return r->value;
}

// The layer's weight quantized to INT4 blocks of 32 and dequantized, in its stored layout.
Tensor fake_quant_int4(const pa::Layer& layer, const Tensor& w, double* squared_error) {
  const std::vector<float> cw = pa::canonical_matrix(layer, w);
  passes::quant::QuantFormat f;
  f.bits = 4;
  f.symmetric = true;
  const auto q = passes::quant::quantize_rtn(cw.data(), layer.channels, layer.reduction, 32, f, passes::quant::ClipMode::kNone);
  const std::vector<float> dq = q.dequantize();
  Tensor out = w.clone();
  *squared_error = 0;
  for (int64_t r = 0; r < layer.channels; ++r)
    for (int64_t c = 0; c < layer.reduction; ++c) {
      const float v = dq[static_cast<size_t>(r * layer.reduction + c)];
      const float old = w.data<float>()[layer.index(r, c)];
      *squared_error += static_cast<double>(v - old) * (v - old);
      out.mutable_data<float>()[layer.index(r, c)] = v;
    }
  return out;
}

}  // namespace

// How far bf16 backward products moved the scores from the f32 ones: the largest relative
// change of each kind of per-tensor score, the rank agreement of the layers' predicted INT4
// increases, and the worst rank agreement of any tensor's group (channel, neuron) scores.
void compare_reports(const pa::ImportanceReport& bf16, const pa::ImportanceReport& f32) {
  auto rel = [](double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-30); };
  double taylor = 0, fisher = 0, noise = 0, increase = 0, worst_groups = 1;
  std::vector<double> pred_bf16, pred_f32;
  for (size_t i = 0; i < bf16.tensors.size() && i < f32.tensors.size(); ++i) {
    const auto& a = bf16.tensors[i];
    const auto& b = f32.tensors[i];
    taylor = std::max(taylor, rel(a.taylor, b.taylor));
    fisher = std::max(fisher, rel(a.fisher_sum, b.fisher_sum));
    for (size_t c = 0; c < a.candidates.size() && c < b.candidates.size(); ++c) {
      noise = std::max(noise, rel(a.candidates[c].noise, b.candidates[c].noise));
      increase = std::max(increase, rel(a.candidates[c].predicted_loss_increase, b.candidates[c].predicted_loss_increase));
      if (a.candidates[c].precision == "int4" && a.candidates[c].block == 32) {
        pred_bf16.push_back(a.candidates[c].predicted_loss_increase);
        pred_f32.push_back(b.candidates[c].predicted_loss_increase);
      }
    }
    if (a.groups.fisher.size() > 1 && a.groups.fisher.size() == b.groups.fisher.size())
      worst_groups = std::min(worst_groups, spearman(a.groups.fisher, b.groups.fisher));
  }
  std::printf("bf16 against f32 products: largest relative change of a tensor's taylor %.2e, fisher sum %.2e, "
              "quantization noise %.2e, predicted increase %.2e\n",
              taylor, fisher, noise, increase);
  std::printf("Spearman(layers' predicted INT4 increase, bf16 vs f32) = %.4f over %zu layers; worst Spearman of a "
              "tensor's group Fisher scores %.4f\n",
              spearman(pred_bf16, pred_f32), pred_bf16.size(), worst_groups);
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: %s MODEL CALIB EVAL [--rows 512] [--eval-rows 96] [--threads 0] [--grad-precision bf16|f32] "
                 "[--compare-f32] [--no-timing] [--no-correlation]\n",
                 argv[0]);
    return 2;
  }
  const std::string model_path = argv[1], calib = argv[2], eval = argv[3];
  int64_t rows = 512, eval_rows = 96;
  int threads = 0;
  bool timing = true, correlation = true, bf16 = true, compare_f32 = false;
  for (int i = 4; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rows" && i + 1 < argc) rows = std::stoll(argv[++i]);
    else if (a == "--eval-rows" && i + 1 < argc) eval_rows = std::stoll(argv[++i]);
    else if (a == "--threads" && i + 1 < argc) threads = std::stoi(argv[++i]);
    else if (a == "--no-timing") timing = false;
    else if (a == "--grad-precision" && i + 1 < argc) bf16 = std::string(argv[++i]) != "f32";
    else if (a == "--compare-f32") compare_f32 = true;
    else if (a == "--no-correlation") correlation = false;
  }
  auto model = formats::load_onnx(model_path);
  if (!model.ok()) die(model.status());

  Timing before, after, fused_before, fused_after;
  if (timing) {
    before = forward_alone(*model, calib, rows, threads, false);
    fused_before = forward_alone(*model, calib, rows, threads, true);
  }
  calibration::CalibrationOptions set_options;
  set_options.batch = pa::importance_batch_rows(model->graph, 8);
  set_options.limit = rows;
  auto set = calibration::CalibrationSet::open(calib, model->graph.feed_inputs(), set_options);
  if (!set.ok()) die(set.status());
  pa::ImportanceOptions io;
  io.threads = threads;
  io.bf16_products = bf16;
  reset_peak_rss();
  const double w0 = wall_now(), c0 = cpu_now();
  auto report = pa::compute_importance(*model, *set, io);
  if (!report.ok()) die(report.status());
  const Timing imp{wall_now() - w0, cpu_now() - c0};
  const double rss = peak_rss_bytes();
  if (timing) {
    fused_after = forward_alone(*model, calib, rows, threads, true);
    after = forward_alone(*model, calib, rows, threads, false);
  }
  std::printf("## importance over %lld rows of %s (loss %s, mean %.4f nats, %s backward products)\n",
              static_cast<long long>(report->rows), model_path.c_str(), report->loss.c_str(), report->mean_loss,
              report->gradient_products.c_str());
  if (timing) {
    const double fw = 0.5 * (before.wall + after.wall), fc = 0.5 * (before.cpu + after.cpu);
    const double ffw = 0.5 * (fused_before.wall + fused_after.wall), ffc = 0.5 * (fused_before.cpu + fused_after.cpu);
    std::printf("forward alone: wall %.1f s (%.1f, %.1f), cpu %.1f s\n", fw, before.wall, after.wall, fc);
    std::printf("forward alone, float fusions on: wall %.1f s (%.1f, %.1f), cpu %.1f s\n", ffw, fused_before.wall,
                fused_after.wall, ffc);
    std::printf("importance:    wall %.1f s (forward %.1f s, backward %.1f s), cpu %.1f s\n", imp.wall,
                report->forward_seconds, report->backward_seconds, imp.cpu);
    std::printf("ratio importance / forward alone: wall %.2fx, cpu %.2fx\n", imp.wall / fw, imp.cpu / fc);
    std::printf("ratio importance / fused forward alone: wall %.2fx, cpu %.2fx\n", imp.wall / ffw, imp.cpu / ffc);
    std::printf("peak RSS during importance: %.1f MB; peak saved activations %.1f MB\n", rss / 1e6,
                static_cast<double>(report->peak_saved_activation_bytes) / 1e6);
  }
  if (compare_f32) {
    io.bf16_products = false;
    const double w1 = wall_now(), c1 = cpu_now();
    auto exact = pa::compute_importance(*model, *set, io);
    if (!exact.ok()) die(exact.status());
    const Timing f32{wall_now() - w1, cpu_now() - c1};
    std::printf("importance, f32 products: wall %.1f s (forward %.1f s, backward %.1f s), cpu %.1f s", f32.wall,
                exact->forward_seconds, exact->backward_seconds, f32.cpu);
    if (timing)
      std::printf("; ratio %.2fx, %.2fx of the fused forward", f32.wall / (0.5 * (before.wall + after.wall)),
                  f32.wall / (0.5 * (fused_before.wall + fused_after.wall)));
    std::printf("\n");
    compare_reports(*report, *exact);
  }
  if (!correlation) return 0;

  // Layers: the tensors with precision candidates; their layout comes from the structure
  // (shapes only matter for attention heads, which this does not use).
  auto structure = pa::build_layer_model(model->graph);
  if (!structure.ok()) die(structure.status());
  const double base = eval_bpb(*model, eval, eval_rows, threads);
  std::printf("\nFP32 bits/byte over %lld eval rows: %.4f\n\n", static_cast<long long>(eval_rows), base);
  std::printf("| layer | predicted increase (bits/byte) | measured increase (bits/byte) | sum dw^2 | taylor |\n|---|---|---|---|---|\n");
  std::vector<double> predicted, measured, plain_error, taylor;
  for (const auto& t : report->tensors) {
    double pred = -1;
    for (const auto& c : t.candidates)
      if (c.precision == "int4" && c.block == 32) pred = c.predicted_loss_increase / std::log(2.0);
    if (pred < 0) continue;
    const pa::Layer* layer = structure->find(t.name);
    if (!layer) continue;
    ir::Model q = *model;
    double err = 0;
    q.graph.set_initializer(t.name, fake_quant_int4(*layer, *model->graph.find_initializer(t.name), &err));
    const double bpb = eval_bpb(q, eval, eval_rows, threads);
    predicted.push_back(pred);
    measured.push_back(bpb - base);
    plain_error.push_back(err);
    taylor.push_back(t.taylor);
    std::printf("| %s | %.5f | %.5f | %.4g | %.4g |\n", t.name.c_str(), pred, bpb - base, err, t.taylor);
    std::fflush(stdout);
  }
  std::printf("\nSpearman(predicted Fisher noise, measured) = %.3f over %zu layers\n", spearman(predicted, measured),
              predicted.size());
  std::printf("Pearson(predicted, measured) = %.3f\n", pearson(predicted, measured));
  std::printf("baselines: Spearman(sum dw^2, measured) = %.3f, Spearman(Taylor, measured) = %.3f\n",
              spearman(plain_error, measured), spearman(taylor, measured));
  return 0;
}
