#include "bettensor/validator/registry.hpp"

#include <chrono>

namespace bettensor::validator {

void handler_registry::add(std::string type, std::unique_ptr<message_handler> handler) {
  entry e;
  e.handler = std::move(handler);
  // The families hand back the existing child for a label set they already hold.
  e.received = &metrics_.messages_family->Add({{"direction", "in"}, {"type", type}});
  e.duration = &metrics_.handlers_family->Add({{"type", type}}, metrics::latency_buckets());
  handlers_[std::move(type)] = std::move(e);
}

void handler_registry::dispatch(const std::shared_ptr<transport::peer_connection>& peer,
                                protocol::envelope&& message) const {
  const auto it = handlers_.find(message.type);
  if (it == handlers_.end()) {
    metrics::at(metrics_.messages_in, protocol::kind_of_type(message.type)).Increment();
    if (unknown_) unknown_(peer, std::move(message));
    return;
  }
  const auto& e = it->second;
  e.received->Increment();
  const auto t0 = std::chrono::steady_clock::now();
  e.handler->handle(peer, std::move(message));
  if (e.handler->timed_by_registry())
    e.duration->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

prometheus::Histogram* handler_registry::duration_of(std::string_view type) const {
  const auto it = handlers_.find(std::string(type));
  return it == handlers_.end() ? nullptr : it->second.duration;
}

}  // namespace bettensor::validator
