#include "bettensor/metrics/metrics.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace bettensor::metrics {

namespace {

constexpr std::array<std::string_view, static_cast<std::size_t>(auth_failure::count_)> auth_names =
    {"invalid_format",
     "stale_timestamp",
     "invalid_signature",
     "not_registered",
     "blacklisted",
     "timeout",
     "tls"};

// Labels come from protocol's tables (frame kinds, rejections, close reasons).
template <class E, std::size_t N>
std::array<std::string_view, N> labels_of() {
  std::array<std::string_view, N> names{};
  for (std::size_t i = 0; i < N; ++i) names[i] = protocol::label(static_cast<E>(i));
  return names;
}

constexpr std::array<std::string_view, static_cast<std::size_t>(channel::count_)> channel_names = {
    "websocket", "http"};

template <class E, class T, std::size_t N>
by<E, T> resolve(prometheus::Family<T>& family, const char* label,
                 const std::array<std::string_view, N>& names, const auto&... args) {
  by<E, T> out{};
  for (std::size_t i = 0; i < N; ++i)
    out[i] = &family.Add({{label, std::string(names[i])}}, args...);
  return out;
}

// process_* metrics read from /proc on each scrape (the names Prometheus' own clients use).
class process_collector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    const auto gauge = [&out](const char* name, const char* help, prometheus::MetricType type,
                              double v) {
      prometheus::MetricFamily f;
      f.name = name;
      f.help = help;
      f.type = type;
      prometheus::ClientMetric m;
      if (type == prometheus::MetricType::Counter) {
        m.counter.value = v;
      } else {
        m.gauge.value = v;
      }
      f.metric.push_back(m);
      out.push_back(std::move(f));
    };
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    std::ifstream stat("/proc/self/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const auto close = text.rfind(')');
    if (close != std::string::npos) {
      std::istringstream in(text.substr(close + 2));
      std::string field;
      std::vector<std::string> f;
      while (in >> field) f.push_back(field);
      // f[0] is field 3 (state): utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
      if (f.size() > 21) {
        const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
        gauge("process_cpu_seconds_total", "User and system CPU time spent in seconds.",
              prometheus::MetricType::Counter, cpu);
        gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
              prometheus::MetricType::Gauge, std::stod(f[20]));
        gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
              prometheus::MetricType::Gauge, std::stod(f[21]) * page);
        gauge("process_start_time_seconds",
              "Start time of the process since unix epoch in seconds.",
              prometheus::MetricType::Gauge, boot_time() + std::stod(f[19]) / ticks);
      }
    }
    std::error_code ec;
    std::size_t fds = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
      ++fds;
    gauge("process_open_fds", "Number of open file descriptors.", prometheus::MetricType::Gauge,
          static_cast<double>(fds));
    return out;
  }

 private:
  static double boot_time() {
    std::ifstream in("/proc/stat");
    std::string key;
    double value = 0;
    while (in >> key) {
      if (key == "btime") {
        in >> value;
        return value;
      }
      in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    return 0;
  }
};

}  // namespace

registry::registry()
    : registry_(std::make_shared<prometheus::Registry>()),
      process_(std::make_shared<process_collector>()) {}

registry::~registry() = default;

std::string registry::render() const {
  std::ostringstream out;
  auto families = registry_->Collect();
  for (auto& f : process_->Collect()) families.push_back(std::move(f));
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

std::uint16_t registry::expose(const std::string& address, std::uint16_t port) {
  const bool v6 = address.find(':') != std::string::npos;
  const std::string bind = (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(bind, 1);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot serve metrics on " + bind + ": " + e.what());
  }
  exposer_->RegisterCollectable(registry_);
  exposer_->RegisterCollectable(process_);
  const auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? port : static_cast<std::uint16_t>(ports.front());
}

auth_failure auth_failure_of(protocol::errc refusal) {
  switch (refusal) {
    case protocol::errc::stale_timestamp:
      return auth_failure::stale_timestamp;
    case protocol::errc::invalid_signature:
      return auth_failure::invalid_signature;
    case protocol::errc::not_registered:
      return auth_failure::not_registered;
    case protocol::errc::blacklisted:
      return auth_failure::blacklisted;
    default:
      return auth_failure::invalid_format;
  }
}

prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10};
}

validator_metrics::validator_metrics(prometheus::Registry& r) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  connections_open = &BuildGauge()
                          .Name("bettensor_connections_open")
                          .Help("Open WebSocket connections (authenticated or not)")
                          .Register(r)
                          .Add({});
  connections_opened = &BuildCounter()
                            .Name("bettensor_connections_opened_total")
                            .Help("WebSocket connections accepted")
                            .Register(r)
                            .Add({});
  connections_closed = resolve<protocol::close_reason, prometheus::Counter>(
      BuildCounter()
          .Name("bettensor_connections_closed_total")
          .Help("WebSocket connections ended, by reason")
          .Register(r),
      "reason", labels_of<protocol::close_reason, protocol::close_reason_count>());
  auth_failures =
      resolve<auth_failure, prometheus::Counter>(BuildCounter()
                                                     .Name("bettensor_auth_failures_total")
                                                     .Help("Refused handshakes, by reason")
                                                     .Register(r),
                                                 "reason", auth_names);
  auto& messages = BuildCounter()
                       .Name("bettensor_messages_total")
                       .Help("WebSocket frames received (in) and sent (out), by message type")
                       .Register(r);
  messages_family = &messages;
  const auto type_names = labels_of<protocol::frame_kind, protocol::frame_kind_count>();
  for (std::size_t i = 0; i < type_names.size(); ++i) {
    messages_in[i] = &messages.Add({{"direction", "in"}, {"type", std::string(type_names[i])}});
    messages_out[i] = &messages.Add({{"direction", "out"}, {"type", std::string(type_names[i])}});
  }
  auto& bytes = BuildCounter()
                    .Name("bettensor_bytes_total")
                    .Help("WebSocket payload bytes received (in) and sent (out)")
                    .Register(r);
  bytes_in = &bytes.Add({{"direction", "in"}});
  bytes_out = &bytes.Add({{"direction", "out"}});
  ws_writes = &BuildCounter()
                   .Name("bettensor_ws_writes_total")
                   .Help(
                       "Writes of WebSocket frames to miners' sockets; frames that wait go out "
                       "together, so frames sent per write is bettensor_messages_total"
                       "{direction=\"out\"} over this")
                   .Register(r)
                   .Add({});
  handlers_family =
      &BuildHistogram()
           .Name("bettensor_handler_duration_seconds")
           .Help(
               "Time to handle a verified frame, by message type (predictions: until the "
               "verdict is durable)")
           .Register(r);
  handler_seconds = resolve<protocol::frame_kind, prometheus::Histogram>(
      *handlers_family, "type", type_names, latency_buckets());
  predictions_accepted =
      resolve<channel, prometheus::Counter>(BuildCounter()
                                                .Name("bettensor_predictions_accepted_total")
                                                .Help("Predictions accepted and stored, by channel")
                                                .Register(r),
                                            "channel", channel_names);
  predictions_duplicate = resolve<channel, prometheus::Counter>(
      BuildCounter()
          .Name("bettensor_predictions_duplicate_total")
          .Help("Re-sent predictions answered with their original verdict, by channel")
          .Register(r),
      "channel", channel_names);
  predictions_rejected = resolve<protocol::rejection, prometheus::Counter>(
      BuildCounter()
          .Name("bettensor_predictions_rejected_total")
          .Help("Predictions rejected, by reason")
          .Register(r),
      "reason", labels_of<protocol::rejection, protocol::rejection_count>());
  broadcast_seconds = &BuildHistogram()
                           .Name("bettensor_broadcast_duration_seconds")
                           .Help(
                               "Time from a game update being broadcast to its signed frame "
                               "being queued to the last connected miner")
                           .Register(r)
                           .Add({}, latency_buckets());
  storage_commit_seconds = &BuildHistogram()
                                .Name("bettensor_storage_commit_duration_seconds")
                                .Help(
                                    "Time to decide and durably commit one batch of predictions "
                                    "(one database transaction, its fsync included)")
                                .Register(r)
                                .Add({}, latency_buckets());
  storage_batch_predictions =
      &BuildHistogram()
           .Name("bettensor_storage_batch_predictions")
           .Help("Predictions decided and committed together in one transaction")
           .Register(r)
           .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256, 512});
  auto& retries = BuildCounter()
                      .Name("bettensor_storage_retries_total")
                      .Help(
                          "Batches of predictions decided again, by reason: the database was "
                          "unavailable (their verdicts wait), or another instance stored one of "
                          "their ids first (conflict)")
                      .Register(r);
  storage_retries_unavailable = &retries.Add({{"reason", "unavailable"}});
  storage_retries_conflict = &retries.Add({{"reason", "conflict"}});
  storage_available = &BuildGauge()
                           .Name("bettensor_storage_available")
                           .Help("1 while the database answers; 0 while verdicts wait for it")
                           .Register(r)
                           .Add({});
  storage_available->Set(1);
  storage_info =
      &BuildGauge()
           .Name("bettensor_storage_info")
           .Help("1, labelled with the storage backend in use (sqlite, bettensor, postgresql)")
           .Register(r);
  cluster_listening = &BuildGauge()
                           .Name("bettensor_cluster_listening")
                           .Help(
                               "With a PostgreSQL database: 1 while this instance listens for "
                               "the other instances' game sets and connections (LISTEN/NOTIFY)")
                           .Register(r)
                           .Add({});
  cluster_takeovers = &BuildCounter()
                           .Name("bettensor_cluster_takeovers_total")
                           .Help(
                               "Connections closed because the same miner connected again to "
                               "another instance")
                           .Register(r)
                           .Add({});
  auto& stages = BuildCounter()
                     .Name("bettensor_stage_seconds_total")
                     .Help(
                         "Time the threads spent per stage of the prediction path (parse, "
                         "verify, rules, commit, sign, write), summed over every message")
                     .Register(r);
  for (std::size_t i = 0; i < stage_seconds.size(); ++i)
    stage_seconds[i] = &stages.Add({{"stage", std::string(to_label(static_cast<stage>(i)))}});
  key_cache_keys = &BuildGauge()
                        .Name("bettensor_verify_key_cache_keys")
                        .Help("Miners' keys held with precomputed verification tables")
                        .Register(r)
                        .Add({});
  key_cache_builds = &BuildCounter()
                          .Name("bettensor_verify_key_cache_builds_total")
                          .Help(
                              "Verification tables built (a key's first signed frame after "
                              "its handshake, or after its eviction)")
                          .Register(r)
                          .Add({});
  key_cache_evictions = &BuildCounter()
                             .Name("bettensor_verify_key_cache_evictions_total")
                             .Help(
                                 "Verification tables dropped, least recently used first, to "
                                 "stay within --websocket.key_cache_mb")
                             .Register(r)
                             .Add({});
  verify_batches = &BuildCounter()
                        .Name("bettensor_verify_batches_total")
                        .Help(
                            "Frames of one connection waiting together whose signatures were "
                            "checked in one equation")
                        .Register(r)
                        .Add({});
  verify_batch_signatures = &BuildCounter()
                                 .Name("bettensor_verify_batch_signatures_total")
                                 .Help("Signatures checked in those batches")
                                 .Register(r)
                                 .Add({});
  verify_batches_failed = &BuildCounter()
                               .Name("bettensor_verify_batches_failed_total")
                               .Help(
                                   "Batches whose equation failed: each frame was verified "
                                   "alone")
                               .Register(r)
                               .Add({});
  broadcasts = &BuildCounter()
                    .Name("bettensor_broadcasts_total")
                    .Help("Game-update broadcasts")
                    .Register(r)
                    .Add({});
  broadcast_recipients = &BuildCounter()
                              .Name("bettensor_broadcast_recipients_total")
                              .Help("Connections a game update was queued to, summed")
                              .Register(r)
                              .Add({});
  send_queue_frames = &BuildGauge()
                           .Name("bettensor_send_queue_frames")
                           .Help("Frames waiting in the send queues of all connections")
                           .Register(r)
                           .Add({});
  slow_consumer_drops = &BuildCounter()
                             .Name("bettensor_slow_consumer_drops_total")
                             .Help("Connections closed because their send queue was full")
                             .Register(r)
                             .Add({});
  invalid_frames = &BuildCounter()
                        .Name("bettensor_invalid_frames_total")
                        .Help(
                            "Frames from authenticated miners refused (bad format, "
                            "signature, sender, timestamp or nonce)")
                        .Register(r)
                        .Add({});
  http_prediction_requests = &BuildCounter()
                                  .Name("bettensor_http_fallback_requests_total")
                                  .Help("POST /predictions requests (the miners' HTTP fallback)")
                                  .Register(r)
                                  .Add({});
  admin_requests = &BuildCounter()
                        .Name("bettensor_admin_requests_total")
                        .Help("Admin API and page requests by endpoint and outcome")
                        .Register(r);
  auto& http_timeouts = BuildCounter()
                            .Name("bettensor_http_timeouts_total")
                            .Help(
                                "Connections closed because no complete HTTP request arrived "
                                "within --websocket.handshake_timeout (partial: slow headers "
                                "or body; idle: nothing sent)")
                            .Register(r);
  http_timeouts_partial = &http_timeouts.Add({{"request", "partial"}});
  http_timeouts_idle = &http_timeouts.Add({{"request", "idle"}});
}

miner_metrics::miner_metrics(prometheus::Registry& r) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  validators = &BuildGauge()
                    .Name("bettensor_miner_validators")
                    .Help("Validators the miner delivers to")
                    .Register(r)
                    .Add({});
  validators_connected = &BuildGauge()
                              .Name("bettensor_miner_validators_connected")
                              .Help("Validators with an authenticated WebSocket")
                              .Register(r)
                              .Add({});
  reconnects = &BuildCounter()
                    .Name("bettensor_miner_reconnects_total")
                    .Help("Connections re-established after a previous one ended")
                    .Register(r)
                    .Add({});
  refusals = &BuildCounter()
                  .Name("bettensor_miner_auth_refusals_total")
                  .Help("Handshakes a validator refused (Not authorized: ...)")
                  .Register(r)
                  .Add({});
  confirmation_seconds = &BuildHistogram()
                              .Name("bettensor_miner_confirmation_latency_seconds")
                              .Help(
                                  "From sending a prediction over WebSocket to its "
                                  "confirmation")
                              .Register(r)
                              .Add({}, latency_buckets());
  game_update_delivery_seconds = &BuildHistogram()
                                      .Name("bettensor_miner_game_update_delivery_seconds")
                                      .Help(
                                          "From the validator signing a game update to the "
                                          "miner storing it")
                                      .Register(r)
                                      .Add({}, latency_buckets());
  game_updates = &BuildCounter()
                      .Name("bettensor_miner_game_updates_total")
                      .Help("Verified game updates received")
                      .Register(r)
                      .Add({});
  outbox_pending = &BuildGauge()
                        .Name("bettensor_miner_outbox_pending")
                        .Help(
                            "Prediction deliveries awaiting a validator's answer (one per "
                            "prediction and validator)")
                        .Register(r)
                        .Add({});
  auto& predictions = BuildCounter()
                          .Name("bettensor_miner_predictions_total")
                          .Help("Predictions stored in the outbox, by source")
                          .Register(r);
  predictions_strategy = &predictions.Add({{"source", "strategy"}});
  predictions_api = &predictions.Add({{"source", "api"}});
  auto& api_refused = BuildCounter()
                          .Name("bettensor_miner_api_refusals_total")
                          .Help(
                              "Local API requests refused, by reason: a remote client, a Host "
                              "that is not loopback, another page's Origin")
                          .Register(r);
  api_refused_remote = &api_refused.Add({{"reason", "remote"}});
  api_refused_host = &api_refused.Add({{"reason", "host"}});
  api_refused_origin = &api_refused.Add({{"reason", "origin"}});
  auto& answers = BuildCounter()
                      .Name("bettensor_miner_answers_total")
                      .Help("Validators' final answers, by outcome and channel")
                      .Register(r);
  for (std::size_t i = 0; i < channel_names.size(); ++i) {
    answers_accepted[i] =
        &answers.Add({{"outcome", "accepted"}, {"channel", std::string(channel_names[i])}});
    answers_rejected[i] =
        &answers.Add({{"outcome", "rejected"}, {"channel", std::string(channel_names[i])}});
  }
  auto& fallback = BuildCounter()
                       .Name("bettensor_miner_http_fallback_requests_total")
                       .Help("POST /predictions sent because a validator's WebSocket was down")
                       .Register(r);
  fallback_requests_ok = &fallback.Add({{"outcome", "answered"}});
  fallback_requests_failed = &fallback.Add({{"outcome", "failed"}});
  frames_dropped = &BuildCounter()
                        .Name("bettensor_miner_frames_dropped_total")
                        .Help("Frames from validators that failed verification")
                        .Register(r)
                        .Add({});
  storage_errors = &BuildCounter()
                        .Name("bettensor_miner_storage_errors_total")
                        .Help(
                            "Database steps that failed (disk full, read-only file, I/O error) "
                            "and were retried")
                        .Register(r)
                        .Add({});
}

double thread_cpu_seconds() noexcept {
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

bool stage_sampled(stage s) noexcept {
  thread_local std::array<unsigned, static_cast<std::size_t>(stage::count_)> calls{};
  return calls[static_cast<std::size_t>(s)]++ % stage_sample_every == 0;
}

std::string_view to_label(stage s) {
  static constexpr std::array<std::string_view, static_cast<std::size_t>(stage::count_)> labels{
      "parse", "verify", "rules", "commit", "sign", "write"};
  return labels[static_cast<std::size_t>(s)];
}

std::string_view to_label(metagraph_sync s) {
  static constexpr std::array<std::string_view, static_cast<std::size_t>(metagraph_sync::count_)>
      labels{"ok", "unreachable", "timeout", "rpc_error", "malformed", "empty"};
  return labels[static_cast<std::size_t>(s)];
}

metagraph_metrics::metagraph_metrics(prometheus::Registry& r) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  auto& family = BuildCounter()
                     .Name("bettensor_metagraph_syncs_total")
                     .Help(
                         "Metagraph reads from the chain, by outcome (ok, unreachable, timeout, "
                         "rpc_error, malformed, empty)")
                     .Register(r);
  for (std::size_t i = 0; i < syncs.size(); ++i)
    syncs[i] = &family.Add({{"outcome", std::string(to_label(static_cast<metagraph_sync>(i)))}});
  last_success = &BuildGauge()
                      .Name("bettensor_metagraph_last_success_timestamp_seconds")
                      .Help(
                          "When the metagraph was last read from the chain (Unix time; 0: not "
                          "since the start, or read from a file)")
                      .Register(r)
                      .Add({});
  consecutive_failures = &BuildGauge()
                              .Name("bettensor_metagraph_consecutive_failures")
                              .Help("Failed metagraph reads from the chain since the last good one")
                              .Register(r)
                              .Add({});
  block = &BuildGauge()
               .Name("bettensor_metagraph_block")
               .Help("The block of the metagraph in force")
               .Register(r)
               .Add({});
  neurons = &BuildGauge()
                 .Name("bettensor_metagraph_neurons")
                 .Help("Neurons in the metagraph in force")
                 .Register(r)
                 .Add({});
}

}  // namespace bettensor::metrics
