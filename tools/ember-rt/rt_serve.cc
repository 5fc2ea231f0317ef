// ember-rt serve MODEL [--manifest M] [--host 127.0.0.1] [--port 8000] [scheduler options]
// An HTTP server speaking the Open Inference Protocol (KServe v2) over the priority scheduler
// (deploy/scheduler.h). Settings come from the manifest's deployment section; options given
// here override them. SIGTERM or SIGINT: stop accepting, answer everything queued, exit 0.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <ctime>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <thread>

#include "deploy/thermal.h"
#include "tools/ember-rt/rt_serve.h"
#include "tools/ember-rt/rt_commands.h"

namespace ember::rt {
namespace {

struct ServeOptions {
  std::string model, manifest, host = "127.0.0.1", name, thermal_sensor, sysfs_root;
  int port = 8000;
  long long max_body_bytes = 16 << 20;
  // Not given: the manifest's (or the default) value.
  std::optional<int> workers, max_batch, max_queue_delay_us, timeout_ms, poll_ms;
  std::optional<double> reserved_share, thermal_threshold;
  std::string policy;
};

Status apply_overrides(const ServeOptions& o, deploy::DeploymentConfig& c) {
  EMBER_TRY(check_range("--port", o.port, 0, 65535));
  EMBER_TRY(check_range("--max-body-bytes", o.max_body_bytes, 1024, 1LL << 30));
  auto& s = c.scheduler;
  s.workers = o.workers.value_or(s.workers);
  s.max_batch = o.max_batch.value_or(s.max_batch);
  s.max_queue_delay_us = o.max_queue_delay_us.value_or(s.max_queue_delay_us);
  s.timeout_ms = o.timeout_ms.value_or(s.timeout_ms);
  s.urgent_reserved_share = o.reserved_share.value_or(s.urgent_reserved_share);
  if (!o.policy.empty()) s.policy = o.policy;
  if (!o.thermal_sensor.empty()) c.thermal.sensor = o.thermal_sensor;
  c.thermal.threshold_c = o.thermal_threshold.value_or(c.thermal.threshold_c);
  c.thermal.poll_ms = o.poll_ms.value_or(c.thermal.poll_ms);
  if (!o.sysfs_root.empty()) c.power.sysfs_root = o.sysfs_root;
  // The section's one range check (formats/deployment_config.h), after the overrides.
  return formats::validate_deployment(c).with_context("ember-rt serve's options over the deployment section");
}

// Polls the thermal sensor and refreshes the gauges until `stop`.
class ThermalPoller {
 public:
  ThermalPoller(std::optional<deploy::ThermalSensor> sensor, const deploy::ThermalConfig& config, deploy::Scheduler& scheduler,
                deploy::Metrics& metrics)
      : sensor_(std::move(sensor)), sensor_path_(config.sensor), gate_(config), period_(config.poll_ms), scheduler_(scheduler),
        metrics_(metrics) {
    thread_ = std::thread([this] { loop(); });
  }
  ~ThermalPoller() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      if (sensor_) {
        auto c = sensor_->read_celsius();
        if (c.ok()) {
          if (gate_.update(*c)) {
            scheduler_.set_throttled(gate_.throttled());
            std::fprintf(stderr, "ember-rt: thermal %.1f C: %s%s\n", *c, gate_.throttled() ? "throttling" : "restored",
                         since_sensor_changed().c_str());
          }
          metrics_.set_thermal(gate_.throttled(), *c, true);
        }
      }
      cv_.wait_for(lock, std::chrono::milliseconds(period_), [this] { return stop_; });
    }
  }
  // ", 42 ms after the sensor file changed" for a named sensor file (tests and benchmarks
  // write one): how long the gate took to react, measured from the file's mtime.
  std::string since_sensor_changed() const {
    struct stat st {};
    if (sensor_path_.empty() || stat(sensor_path_.c_str(), &st) != 0) return "";
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    const double ms = (now.tv_sec - st.st_mtim.tv_sec) * 1e3 + (now.tv_nsec - st.st_mtim.tv_nsec) / 1e6;
    return ", " + std::to_string(static_cast<long>(ms)) + " ms after the sensor file changed";
  }
  std::optional<deploy::ThermalSensor> sensor_;
  std::string sensor_path_;
  deploy::ThermalGate gate_;
  int period_;
  deploy::Scheduler& scheduler_;
  deploy::Metrics& metrics_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

Result<std::vector<std::unique_ptr<deploy::Session>>> open_workers(const ServeOptions& o, deploy::DeploymentConfig& config) {
  std::vector<std::unique_ptr<deploy::Session>> workers;
  EMBER_ASSIGN_OR_RETURN(auto first, open_model(o.model, o.manifest, /*threads=*/1, /*dynamic_batch=*/true, o.sysfs_root));
  // The Open Inference Protocol carries tensors: a model with sequence or optional inputs or
  // outputs is refused before listening rather than failing every request.
  for (const auto& v : first->interpreter().model().graph.inputs)
    if (!v.is_tensor) return unsupported("input '" + v.name + "' of " + o.model + " is a sequence or an optional; ember-rt serve (KServe v2 JSON) carries tensors only: use ember-rt run");
  for (const auto& v : first->interpreter().model().graph.outputs)
    if (!v.is_tensor) return unsupported("output '" + v.name + "' of " + o.model + " is a sequence or an optional; ember-rt serve (KServe v2 JSON) carries tensors only: use ember-rt run");
  if (first->manifest()) config = first->manifest()->deployment;
  EMBER_TRY(apply_overrides(o, config));
  const int n = config.scheduler.workers > 0 ? std::min(config.scheduler.workers, 64) : deploy::available_cores();
  workers.push_back(std::move(first));
  for (int i = 1; i < n; ++i) {
    EMBER_ASSIGN_OR_RETURN(auto w, workers.front()->clone());
    workers.push_back(std::move(w));
  }
  return workers;
}

// cpp-httplib listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG, compiled into Debian's
// library). Under a burst of new connections the kernel then drops handshakes, and a client
// waits a 1 s SYN retransmission or sees its connection reset. Calling listen() again on the
// listening socket raises the backlog (Linux updates it in place).
void raise_listen_backlog(int port) {
  for (int fd = 0; fd < 4096; ++fd) {
    int accepting = 0;
    socklen_t len = sizeof accepting;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || !accepting) continue;
    sockaddr_storage addr{};
    socklen_t addr_len = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) continue;
    const int bound = addr.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port)
                      : addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                                   : -1;
    if (bound == port) ::listen(fd, 1024);
  }
}

int serve(const ServeOptions& o) {
  deploy::DeploymentConfig config;
  if (Status st = apply_overrides(o, config); !st.ok()) return report(st);
  // Signals go to the waiting thread below, never to a worker.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto workers = open_workers(o, config);
  if (!workers.ok()) return report(workers.status());
  deploy::Metrics metrics;
  ServeContext context;
  context.model_name = o.name.empty() ? std::filesystem::path(o.model).stem().string() : o.name;
  context.session = workers->front().get();
  context.config = config;
  context.max_body_bytes = static_cast<uint64_t>(o.max_body_bytes);
  std::optional<deploy::ThermalSensor> sensor;
  if (config.thermal.enabled) {
    auto s = deploy::ThermalSensor::open(config.thermal, config.power.sysfs_root);
    if (s.ok()) sensor = std::move(*s);
    context.thermal_source = s.ok() ? sensor->description() : "none: " + s.status().message();
  } else {
    context.thermal_source = "disabled";
  }
  deploy::Scheduler scheduler(config.scheduler, config.thermal, std::move(*workers), metrics);
  context.scheduler = &scheduler;
  context.metrics = &metrics;
  ThermalPoller poller(sensor, config.thermal, scheduler, metrics);
  httplib::Server server;
  const auto st = scheduler.state();
  // A handler thread waits for each queued request, so the pool holds every queue's capacity
  // plus room to parse, reject and answer new requests without queueing behind them.
  const size_t http_threads = static_cast<size_t>(config.scheduler.queue_capacity[0] + config.scheduler.queue_capacity[1] +
                                                  config.scheduler.queue_capacity[2] + st.workers + 64);
  server.new_task_queue = [http_threads] { return new httplib::ThreadPool(std::min<size_t>(http_threads, 512)); };
  server.set_payload_max_length(static_cast<size_t>(o.max_body_bytes));
  // A keep-alive client's next request waited ~40 ms for each answer: Nagle held the body's last
  // segment until the client's delayed ACK. Answers are written whole, so send them at once.
  server.set_tcp_nodelay(true);
  // Under overload a client may read a large response slowly: do not drop it after httplib's 5 s.
  server.set_read_timeout(30, 0);
  server.set_write_timeout(30, 0);
  install_routes(server, context);
  const int port = o.port == 0 ? server.bind_to_any_port(o.host) : (server.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port < 0) return report(invalid_input("cannot listen on " + o.host + ":" + std::to_string(o.port) + " (in use, or a bad address)"));
  raise_listen_backlog(port);
  std::fprintf(stderr,
               "ember-rt: serving %s on http://%s:%d (backend %s; %d workers, %d reserved for urgent; max batch %d, max queue delay "
               "%d us; thermal: %s; energy: %s)\n",
               context.model_name.c_str(), o.host.c_str(), port, context.session->backend_name().c_str(), st.workers, st.reserved,
               config.scheduler.max_batch, config.scheduler.max_queue_delay_us, context.thermal_source.c_str(),
               scheduler.energy().measured ? "measured" : "estimated");
  std::printf("listening %d\n", port);
  std::fflush(stdout);
  std::atomic<bool> listen_returned{false};
  std::thread stopper([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::fprintf(stderr, "ember-rt: signal %d: finishing the queued requests\n", sig);
    scheduler.drain();
    // A signal right after start-up may come before the listen loop runs, when stop() does
    // nothing (the server then ran on, ignoring SIGTERM): ask until the loop has returned.
    while (!listen_returned.load()) {
      server.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  const bool listened = server.listen_after_bind();
  listen_returned = true;
  scheduler.drain();
  if (stopper.joinable()) {
    pthread_kill(stopper.native_handle(), SIGTERM);
    stopper.join();
  }
  std::fprintf(stderr, "ember-rt: stopped\n");
  return listened ? 0 : report(internal_error("the HTTP server failed"));
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* sub = app.add_subcommand("serve", "Serve a model over HTTP (Open Inference Protocol / KServe v2) with a priority scheduler");
  sub->add_option("model", o->model, "The ONNX model")->required();
  sub->add_option("--manifest", o->manifest, "The model's manifest.json: verified first; its deployment section sets the defaults");
  sub->add_option("--host", o->host, "Address to listen on")->default_val("127.0.0.1");
  sub->add_option("--port", o->port, "Port (0 = any free port; the port is printed as 'listening N')")->default_val(8000);
  sub->add_option("--name", o->name, "Model name in the URLs (default: the file's stem)");
  sub->add_option("--workers", o->workers, "Inference workers, one thread each (default: the manifest's, else the cores available)");
  sub->add_option("--reserved-share", o->reserved_share, "Share of the workers only urgent requests may use (default 0.2)");
  sub->add_option("--policy", o->policy, "priority (three tiers, reservation) or fifo (default: priority)");
  sub->add_option("--max-batch", o->max_batch, "Largest dynamic batch of short requests; 1 = no batching (default 8)");
  sub->add_option("--max-queue-delay-us", o->max_queue_delay_us, "Longest a short request waits for a batch (default 2000)");
  sub->add_option("--timeout-ms", o->timeout_ms, "Default per-request deadline (default 10000)");
  sub->add_option("--max-body-bytes", o->max_body_bytes, "Largest request body; larger gets 413")->default_val(16 << 20);
  sub->add_option("--thermal-sensor", o->thermal_sensor, "File with millidegrees Celsius (default: the hottest thermal_zone*/temp)");
  sub->add_option("--thermal-threshold", o->thermal_threshold, "Throttle above this many degrees Celsius (default 85)");
  sub->add_option("--poll-ms", o->poll_ms, "Thermal polling interval (default 500)");
  sub->add_option("--sysfs-root", o->sysfs_root, "Root of sysfs for power and thermal readers (default /sys)");
  sub->final_callback([o, &exit_code] { exit_code = serve(*o); });
}

}  // namespace ember::rt
