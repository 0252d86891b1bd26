// One prediction over a validator's POST /predictions, as a coroutine: the miner's delivery
// path when a validator's WebSocket has been down longer than the grace period.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "bettensor/crypto/wallet.hpp"
#include "bettensor/miner/miner_service.hpp"
#include "bettensor/protocol/replay_guard.hpp"

namespace bettensor::miner::detail {

struct http_answer {
  /// The validator's final answer: a confirmation it signed for this prediction (200), or a
  /// refusal of its content (400). Empty when there is none yet (see `failure`).
  std::optional<bool> accepted;
  std::string message;
  /// Why there is no final answer (network error, another status, a bad or foreign
  /// confirmation); worth trying again later.
  std::string failure;
  std::optional<unsigned> status;  // the HTTP status, when a response arrived
};

struct http_target {
  const validator_endpoint& endpoint;
  const crypto::public_key& key;   // the validator's: its confirmation must be signed by it
  protocol::replay_guard& nonces;  // of the confirmations received over HTTP from it
  std::chrono::milliseconds timeout;
  std::chrono::seconds timestamp_window;
  const std::string& tls_ca_file;
};

/// Signs `pred` as `identity`, posts it and reads the answer. Completes on `ex`. The references
/// in `to` must outlive the coroutine.
boost::asio::awaitable<http_answer> post_prediction(boost::asio::any_io_executor ex, http_target to,
                                                    const crypto::hotkey& identity,
                                                    protocol::team_game_prediction pred);

}  // namespace bettensor::miner::detail
