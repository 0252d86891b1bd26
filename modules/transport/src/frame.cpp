#include "bettensor/transport/frame.hpp"

namespace bettensor::transport {

priority priority_of(protocol::frame_kind k) {
  using protocol::frame_kind;
  switch (k) {
    case frame_kind::confirmation:
    case frame_kind::error:
    case frame_kind::welcome:
    case frame_kind::refusal:
      return priority::urgent;
    case frame_kind::heartbeat:
    case frame_kind::heartbeat_ack:
    case frame_kind::heartbeat_response:
      return priority::low;
    default:
      return priority::normal;
  }
}

}  // namespace bettensor::transport
