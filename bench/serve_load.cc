// serve_load: an open-loop load generator for `ember-rt serve` (loopback only, bounded).
//   serve_load --port P --model NAME --rate R --seconds S [--max-requests N] [--seed N]
//              [--urgent 0.1 --normal 0.6] [--long-share 0.3] [--short-len 16] [--long-len 128]
//              [--closed N]   (closed loop with N clients instead: measures capacity)
//              [--image 1]    (digits-cnn images instead of token ids)
//              [--keep-alive 1] (closed loop: each client keeps its connection, as a real client
//                              would, instead of one connection per request)
// Arrivals are Poisson at R requests/s for S seconds (at most N requests); each request is
// input_ids [1, len] with a priority header. Prints one JSON object: per tier the counts of
// answered (200), rejected (429), timed out (504), other errors and lost (no answer within
// 60 s or a broken connection), p50/p99 latency of the answered, and the throughput.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
const char* kTiers[] = {"urgent", "normal", "low"};

struct Options {
  int port = 8000;
  std::string model = "model";
  double rate = 10, seconds = 10, urgent = 0.1, normal = 0.6, long_share = 0.3;
  int max_requests = 2000, seed = 1, short_len = 16, long_len = 128, closed = 0;
  bool image = false;  // send digits-cnn images (FP32 [1,1,8,8]) instead of token ids
  bool keep_alive = false;
};

struct Outcome {
  int tier = 0;
  bool is_long = false;
  int status = 0;  // HTTP status; 0 = lost
  double ms = 0;
  double queue_ms = -1;  // the server's "queue_ms" parameter, when answered
  std::string error;     // why it was lost (httplib's error)
  std::string body;      // the start of an error answer's body (not 200, 429 or 504)
};

std::string body_for(int len, std::mt19937& rng, bool image) {
  std::string data;
  if (image) {
    for (int i = 0; i < 64; ++i) data += (i ? "," : "") + std::to_string(static_cast<double>(rng() % 17) / 16);
    return "{\"inputs\":[{\"name\":\"image\",\"shape\":[1,1,8,8],\"datatype\":\"FP32\",\"data\":[" + data + "]}]}";
  }
  for (int i = 0; i < len; ++i) data += (i ? "," : "") + std::to_string(32 + rng() % 90);
  return "{\"inputs\":[{\"name\":\"input_ids\",\"shape\":[1," + std::to_string(len) + "],\"datatype\":\"INT64\",\"data\":[" + data + "]}]}";
}

httplib::Client make_client(const Options& o) {
  httplib::Client client("127.0.0.1", o.port);
  client.set_read_timeout(60, 0);
  client.set_connection_timeout(10, 0);
  client.set_keep_alive(o.keep_alive);
  client.set_tcp_nodelay(true);
  return client;
}

Outcome send(const Options& o, httplib::Client& client, int tier, bool is_long, const std::string& body) {
  Outcome out;
  out.tier = tier;
  out.is_long = is_long;
  const auto start = Clock::now();
  auto res = client.Post(("/v2/models/" + o.model + "/infer").c_str(), {{"X-Ember-Priority", kTiers[tier]}}, body, "application/json");
  out.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (res) {
    out.status = res->status;
    const size_t at = res->body.rfind("\"queue_ms\":");
    if (at != std::string::npos) out.queue_ms = std::atof(res->body.c_str() + at + 11);
    if (res->status != 200 && res->status != 429 && res->status != 504) out.body = res->body.substr(0, 200);
  } else {
    out.error = httplib::to_string(res.error());
  }
  return out;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

void print(const Options& o, const std::vector<Outcome>& outcomes, double wall_s) {
  std::printf("{\"rate\": %.3f, \"seconds\": %.3f, \"sent\": %zu, \"tiers\": {", o.rate, wall_s, outcomes.size());
  int answered_all = 0;
  for (int t = 0; t < 3; ++t) {
    std::map<std::string, int> n;
    std::vector<double> ms, queue_ms;
    std::map<std::string, int> lost_why;
    for (const auto& r : outcomes) {
      if (r.tier != t) continue;
      if (r.queue_ms >= 0) queue_ms.push_back(r.queue_ms);
      if (!r.error.empty()) ++lost_why[r.error];
      ++n["sent"];
      const char* kind = r.status == 200 ? "ok" : r.status == 429 ? "rejected" : r.status == 504 ? "timeout" : r.status == 0 ? "lost" : "error";
      ++n[kind];
      if (r.status == 200) ms.push_back(r.ms);
    }
    answered_all += n["ok"];
    std::string why;
    for (const auto& [e, k] : lost_why) why += (why.empty() ? "" : ", ") + std::string("\"") + e + "\": " + std::to_string(k);
    std::printf("%s\"%s\": {\"sent\": %d, \"ok\": %d, \"rejected\": %d, \"timeout\": %d, \"error\": %d, \"lost\": %d, \"lost_why\": {%s}, "
                "\"p50_ms\": %.2f, \"p99_ms\": %.2f, \"queue_p50_ms\": %.2f, \"queue_p99_ms\": %.2f}",
                t ? ", " : "", kTiers[t], n["sent"], n["ok"], n["rejected"], n["timeout"], n["error"], n["lost"], why.c_str(),
                percentile(ms, 0.5), percentile(ms, 0.99), percentile(queue_ms, 0.5), percentile(queue_ms, 0.99));
  }
  // The first unexpected answer, so that a run with errors says why.
  std::string first_error;
  for (const auto& r : outcomes)
    if (!r.body.empty()) {
      first_error = std::to_string(r.status) + " ";
      for (char c : r.body) first_error += c == '"' || c == '\\' ? '\'' : (c < 32 ? ' ' : c);
      break;
    }
  std::printf("}, \"first_error\": \"%s\", \"throughput_per_s\": %.3f}\n", first_error.c_str(), answered_all / wall_s);
}

int run(const Options& o) {
  std::mt19937 rng(o.seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::exponential_distribution<double> gap(o.rate);
  std::vector<Outcome> outcomes;
  std::mutex mutex;
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(o.seconds);
  auto pick = [&](std::mt19937& r) {
    const double x = std::uniform_real_distribution<double>(0, 1)(r);
    const int tier = x < o.urgent ? 0 : x < o.urgent + o.normal ? 1 : 2;
    const bool is_long = std::uniform_real_distribution<double>(0, 1)(r) < o.long_share;
    return std::make_pair(tier, is_long);
  };
  if (o.closed > 0) {  // closed loop: each client sends its next request when answered
    std::atomic<int> budget{o.max_requests};
    for (int c = 0; c < o.closed; ++c)
      threads.emplace_back([&, c] {
        std::mt19937 r(static_cast<unsigned>(o.seed * 1000 + c));
        httplib::Client client = make_client(o);
        while (Clock::now() < end && budget.fetch_sub(1) > 0) {
          const auto [tier, is_long] = pick(r);
          Outcome out = send(o, client, tier, is_long, body_for(is_long ? o.long_len : o.short_len, r, o.image));
          std::lock_guard lock(mutex);
          outcomes.push_back(out);
        }
      });
  } else {
    auto next = start;
    for (int i = 0; i < o.max_requests; ++i) {
      next += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap(rng)));
      if (next >= end) break;
      std::this_thread::sleep_until(next);
      const auto [tier, is_long] = pick(rng);
      std::string body = body_for(is_long ? o.long_len : o.short_len, rng, o.image);
      threads.emplace_back([&, tier = tier, is_long = is_long, body = std::move(body)] {
        httplib::Client client = make_client(o);
        Outcome out = send(o, client, tier, is_long, body);
        std::lock_guard lock(mutex);
        outcomes.push_back(out);
      });
    }
  }
  for (auto& t : threads) t.join();
  print(o, outcomes, std::chrono::duration<double>(Clock::now() - start).count());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--port") o.port = std::stoi(v);
    else if (k == "--model") o.model = v;
    else if (k == "--rate") o.rate = std::stod(v);
    else if (k == "--seconds") o.seconds = std::min(120.0, std::stod(v));
    else if (k == "--max-requests") o.max_requests = std::min(20000, std::stoi(v));
    else if (k == "--seed") o.seed = std::stoi(v);
    else if (k == "--urgent") o.urgent = std::stod(v);
    else if (k == "--normal") o.normal = std::stod(v);
    else if (k == "--long-share") o.long_share = std::stod(v);
    else if (k == "--short-len") o.short_len = std::stoi(v);
    else if (k == "--long-len") o.long_len = std::stoi(v);
    else if (k == "--closed") o.closed = std::min(64, std::stoi(v));
    else if (k == "--image") o.image = v == "1";
    else if (k == "--keep-alive") o.keep_alive = v == "1";
    else {
      std::fprintf(stderr, "serve_load: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (o.rate <= 0 && o.closed <= 0) return 2;
  return run(o);
}
