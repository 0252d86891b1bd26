// Message handlers keyed by envelope type. Adding a type is one handler class plus one add().
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "bettensor/protocol/messages.hpp"
#include "bettensor/transport/server.hpp"

namespace bettensor::validator {

class message_handler {
 public:
  virtual ~message_handler() = default;
  virtual void handle(const std::shared_ptr<transport::peer_connection>& peer,
                      protocol::envelope&& message) = 0;
};

class handler_registry {
 public:
  using fallback =
      std::function<void(const std::shared_ptr<transport::peer_connection>&, protocol::envelope&&)>;

  void add(std::string type, std::unique_ptr<message_handler> handler);
  /// What happens to a type nobody registered.
  void on_unknown(fallback f) { unknown_ = std::move(f); }
  void dispatch(const std::shared_ptr<transport::peer_connection>& peer,
                protocol::envelope&& message) const;

 private:
  std::unordered_map<std::string, std::unique_ptr<message_handler>> handlers_;
  fallback unknown_;
};

}  // namespace bettensor::validator
