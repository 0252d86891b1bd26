// Prometheus metrics (SPEC.md section 10) on prometheus-cpp: one registry per process, every
// series resolved once at start so the hot path only touches atomics. Labels are of low
// cardinality by construction: enums and fixed message types, never a hotkey, id or address.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "bettensor/protocol/error.hpp"
#include "bettensor/protocol/messages.hpp"
#include "bettensor/protocol/outcome.hpp"

namespace prometheus {
class Exposer;
}

namespace bettensor::metrics {

/// A process's registry, with process_* metrics (CPU, RSS, open fds, start time) from /proc.
class registry {
 public:
  registry();
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  [[nodiscard]] prometheus::Registry& get() { return *registry_; }
  /// The Prometheus text format (for GET /metrics on a program's own port).
  [[nodiscard]] std::string render() const;
  /// Also serves GET /metrics on `address:port` (port 0 picks one); returns the bound port.
  /// Throws std::runtime_error if it cannot listen.
  std::uint16_t expose(const std::string& address, std::uint16_t port);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> process_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

enum class auth_failure : std::uint8_t {
  invalid_format,
  stale_timestamp,
  invalid_signature,
  not_registered,
  blacklisted,
  timeout,
  tls,  // the TLS handshake failed (wss:// with --websocket.tls_cert)
  count_
};
/// The label of a refused handshake's reason.
auth_failure auth_failure_of(protocol::errc refusal);

enum class channel : std::uint8_t { websocket, http, count_ };

/// The steps of a prediction's way through the validator (labels of bettensor_stage_seconds_total):
/// parse the frame, verify its signature, check the rules, commit it, sign the confirmation,
/// write it to the socket.
enum class stage : std::uint8_t { parse, verify, rules, commit, sign, write, count_ };
std::string_view to_label(stage s);

/// CPU time of the calling thread, in seconds. A system call (over a microsecond on a virtual
/// machine), so the stages are timed on one call in stage_sample_every, per stage and thread,
/// and each timed span is counted that many times.
double thread_cpu_seconds() noexcept;
inline constexpr unsigned stage_sample_every = 16;
/// Whether this call of stage `s` on this thread is one of the timed ones.
bool stage_sampled(stage s) noexcept;

template <class E, class T>
using by = std::array<T*, static_cast<std::size_t>(E::count_)>;

template <class E, class T>
T& at(const by<E, T>& a, E e) {
  return *a[static_cast<std::size_t>(e)];
}

/// Latency buckets from 50 µs to 10 s.
prometheus::Histogram::BucketBoundaries latency_buckets();

/// The validator's network side and pipeline.
struct validator_metrics {
  explicit validator_metrics(prometheus::Registry& r);

  prometheus::Gauge* connections_open;
  prometheus::Counter* connections_opened;
  by<protocol::close_reason, prometheus::Counter> connections_closed{};
  by<auth_failure, prometheus::Counter> auth_failures{};
  /// bettensor_messages_total and bettensor_handler_duration_seconds, for labels beyond the
  /// built-in kinds (a handler registered under a new type).
  prometheus::Family<prometheus::Counter>* messages_family;
  prometheus::Family<prometheus::Histogram>* handlers_family;
  by<protocol::frame_kind, prometheus::Counter> messages_in{};
  by<protocol::frame_kind, prometheus::Counter> messages_out{};
  prometheus::Counter* bytes_in;
  prometheus::Counter* bytes_out;
  prometheus::Counter* ws_writes;  // several waiting frames go out in one write
  by<protocol::frame_kind, prometheus::Histogram> handler_seconds{};
  by<channel, prometheus::Counter> predictions_accepted{};
  by<channel, prometheus::Counter> predictions_duplicate{};
  by<protocol::rejection, prometheus::Counter> predictions_rejected{};
  prometheus::Histogram* broadcast_seconds;
  prometheus::Counter* broadcasts;
  prometheus::Counter* broadcast_recipients;
  prometheus::Gauge* send_queue_frames;
  prometheus::Counter* slow_consumer_drops;
  prometheus::Counter* invalid_frames;
  prometheus::Counter* http_prediction_requests;
  /// bettensor_admin_requests_total{endpoint, outcome}: the admin API and page, by the class of
  /// the answer (ok, unauthorized, forbidden, bad_request, not_found, too_large, method).
  prometheus::Family<prometheus::Counter>* admin_requests;
  // Connections whose HTTP request (or upgrade) did not arrive in full within the handshake
  // timeout: part of a request came (a slowloris) or none did (idle or a connection flood).
  prometheus::Counter* http_timeouts_partial;
  prometheus::Counter* http_timeouts_idle;
  prometheus::Histogram* storage_commit_seconds;
  prometheus::Histogram* storage_batch_predictions;
  // Batches decided again: the database was unavailable (lost connection, locked) or another
  // instance wrote one of their ids first.
  prometheus::Counter* storage_retries_unavailable;
  prometheus::Counter* storage_retries_conflict;
  prometheus::Gauge* storage_available;  // 0 while batches wait for the database
  /// bettensor_storage_info{backend}: 1 for the backend in use (sqlite, bettensor, postgresql).
  prometheus::Family<prometheus::Gauge>* storage_info;
  // With PostgreSQL: 1 while this instance listens for the others' game sets and sessions.
  prometheus::Gauge* cluster_listening;
  prometheus::Counter* cluster_takeovers;  // local connections closed for a newer one elsewhere
  /// Seconds the threads spent in each stage, summed over every message.
  by<stage, prometheus::Counter> stage_seconds{};
  // Prepared verification keys (per-key tables): held, built, dropped to make room.
  prometheus::Gauge* key_cache_keys;
  prometheus::Counter* key_cache_builds;
  prometheus::Counter* key_cache_evictions;
  // Same-key batches of waiting frames: the signatures checked in one equation, and the
  // batches whose equation failed (each of their frames was then verified alone).
  prometheus::Counter* verify_batches;
  prometheus::Counter* verify_batch_signatures;
  prometheus::Counter* verify_batches_failed;
};

/// The miner.
struct miner_metrics {
  explicit miner_metrics(prometheus::Registry& r);

  prometheus::Gauge* validators;
  prometheus::Gauge* validators_connected;
  prometheus::Counter* reconnects;
  prometheus::Counter* refusals;
  prometheus::Histogram* confirmation_seconds;
  prometheus::Histogram* game_update_delivery_seconds;
  prometheus::Counter* game_updates;
  prometheus::Gauge* outbox_pending;
  prometheus::Counter* predictions_strategy;
  prometheus::Counter* predictions_api;
  // Local API requests refused: from a remote client, for another host name, from another origin
  prometheus::Counter* api_refused_remote;
  prometheus::Counter* api_refused_host;
  prometheus::Counter* api_refused_origin;
  by<channel, prometheus::Counter> answers_accepted{};
  by<channel, prometheus::Counter> answers_rejected{};
  prometheus::Counter* fallback_requests_ok;
  prometheus::Counter* fallback_requests_failed;
  prometheus::Counter* frames_dropped;
  prometheus::Counter* storage_errors;
};

/// Outcomes of a metagraph read from the chain (labels of bettensor_metagraph_syncs_total).
enum class metagraph_sync : std::uint8_t {
  ok,
  unreachable,  // no connection, or the node hung up
  timeout,      // no answer in time
  rpc_error,    // the node answered with an error
  malformed,    // not JSON-RPC, not SCALE, or not this subnet's neurons
  empty,        // no neurons: the subnet does not exist on that chain
  count_
};
std::string_view to_label(metagraph_sync s);

/// The metagraph in force, on both programs whatever its source (a file or the chain), so that
/// dashboards and alerts find the series either way; the sync counters move only with the chain.
/// Registering twice in one registry yields the same series.
struct metagraph_metrics {
  explicit metagraph_metrics(prometheus::Registry& r);

  by<metagraph_sync, prometheus::Counter> syncs{};
  prometheus::Gauge* last_success;          // Unix time of the last good read; 0: none yet
  prometheus::Gauge* consecutive_failures;  // failed reads since the last good one
  prometheus::Gauge* block;
  prometheus::Gauge* neurons;
};

}  // namespace bettensor::metrics
