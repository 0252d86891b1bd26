// A frame ready to be written: its serialised text and what it is, which decides its lane in a
// send queue. Built once and shared by every connection it goes to.
#pragma once

#include <memory>
#include <string>

#include "bettensor/protocol/messages.hpp"

namespace bettensor::transport {

/// Send priority: confirmations before game updates before heartbeats.
enum class priority { urgent = 0, normal = 1, low = 2 };
/// The lane of a frame kind: answers (confirmation, error, welcome, refusal) are urgent, game
/// updates normal, heartbeats low.
priority priority_of(protocol::frame_kind k);

/// A serialised frame with what it is, built once and shared by every connection it goes to.
struct frame {
  std::string text;
  protocol::frame_kind kind = protocol::frame_kind::other;
  [[nodiscard]] priority lane() const { return priority_of(kind); }
};
using frame_ptr = std::shared_ptr<const frame>;

}  // namespace bettensor::transport
