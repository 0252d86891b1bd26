// Message handlers keyed by envelope type. Adding a type is one handler class plus one add():
// the registry gives it its metric labels (bettensor_messages_total{direction="in",type=...}
// and bettensor_handler_duration_seconds{type=...}) from the type it is registered under.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "bettensor/metrics/metrics.hpp"
#include "bettensor/protocol/messages.hpp"
#include "bettensor/transport/server.hpp"

namespace bettensor::validator {

class message_handler {
 public:
  virtual ~message_handler() = default;
  virtual void handle(const std::shared_ptr<transport::peer_connection>& peer,
                      protocol::envelope&& message) = 0;
  /// False for a handler that observes its own duration (a prediction: until its verdict is
  /// durable, which is after handle() returns).
  [[nodiscard]] virtual bool timed_by_registry() const { return true; }
};

class handler_registry {
 public:
  using fallback =
      std::function<void(const std::shared_ptr<transport::peer_connection>&, protocol::envelope&&)>;

  /// Counts and times into `m`'s families (which must outlive the registry).
  explicit handler_registry(metrics::validator_metrics& m) : metrics_(m) {}

  void add(std::string type, std::unique_ptr<message_handler> handler);
  /// What happens to a type nobody registered (counted under its kind, "other" if unknown).
  void on_unknown(fallback f) { unknown_ = std::move(f); }
  void dispatch(const std::shared_ptr<transport::peer_connection>& peer,
                protocol::envelope&& message) const;
  /// The duration histogram of a registered type (for handlers that time themselves).
  [[nodiscard]] prometheus::Histogram* duration_of(std::string_view type) const;

 private:
  struct entry {
    std::unique_ptr<message_handler> handler;
    prometheus::Counter* received = nullptr;
    prometheus::Histogram* duration = nullptr;
  };
  metrics::validator_metrics& metrics_;
  std::unordered_map<std::string, entry> handlers_;
  fallback unknown_;
};

}  // namespace bettensor::validator
