#include "bettensor/validator/registry.hpp"

namespace bettensor::validator {

void handler_registry::add(std::string type, std::unique_ptr<message_handler> handler) {
  handlers_[std::move(type)] = std::move(handler);
}

void handler_registry::dispatch(const std::shared_ptr<transport::peer_connection>& peer,
                                protocol::envelope&& message) const {
  const auto it = handlers_.find(message.type);
  if (it != handlers_.end()) {
    it->second->handle(peer, std::move(message));
  } else if (unknown_) {
    unknown_(peer, std::move(message));
  }
}

}  // namespace bettensor::validator
