// The server's side of TLS (wss:// and https://), private to the module.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <string>

namespace bettensor::transport::detail {

/// A TLS server context from a PEM certificate chain and its key; throws std::runtime_error
/// naming the file and OpenSSL's reason when they cannot be used.
boost::asio::ssl::context load_server_tls(const std::string& cert_file,
                                          const std::string& key_file);

}  // namespace bettensor::transport::detail
