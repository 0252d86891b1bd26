#include "bettensor/protocol/error.hpp"

#include <boost/throw_exception.hpp>

#include <stdexcept>

namespace bettensor::protocol {

namespace {
class category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "bettensor.protocol"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::invalid_format:
        return "invalid message format";
      case errc::stale_timestamp:
        return "stale timestamp";
      case errc::invalid_signature:
        return "invalid signature";
      case errc::replayed_nonce:
        return "nonce already used";
      case errc::sender_mismatch:
        return "sender does not match the authenticated hotkey";
      case errc::duplicate_id:
        return "Duplicate prediction_id";
      case errc::not_registered:
        return "hotkey not registered";
      case errc::blacklisted:
        return "blacklisted";
      case errc::held_off:
        return "held off by the validator's operator";
    }
    return "unknown protocol error";
  }
};
}  // namespace

const boost::system::error_category& protocol_category() noexcept {
  static const category_impl instance;
  return instance;
}

boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), protocol_category()};
}

void throw_exception_from_error(const error& e, const boost::source_location& loc) {
  boost::throw_exception(std::runtime_error(e.message), loc);
}

error invalid_format(std::string_view detail) {
  return error{errc::invalid_format, "Invalid message format: " + std::string(detail)};
}

error auth_error(errc code) {
  if (code == errc::invalid_format) return invalid_format("malformed authentication message");
  return error{code, "Not authorized: " + make_error_code(code).message()};
}

error frame_error(errc code) {
  return error{code, "Invalid message format: " + make_error_code(code).message()};
}

}  // namespace bettensor::protocol
