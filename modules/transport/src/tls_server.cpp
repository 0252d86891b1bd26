#include "tls_server.hpp"

#include <openssl/ssl.h>

#include <boost/system/error_code.hpp>

#include <stdexcept>

#include "bettensor/transport/http_listener.hpp"

namespace bettensor::transport {

namespace detail {

namespace ssl = boost::asio::ssl;

ssl::context load_server_tls(const std::string& cert_file, const std::string& key_file) {
  if (cert_file.empty() || key_file.empty())
    throw std::runtime_error("TLS needs both a certificate and a key file");
  ssl::context ctx(ssl::context::tls_server);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cert_file, ec);
  if (ec) throw std::runtime_error("cannot use TLS certificate " + cert_file + ": " + ec.message());
  ctx.use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec)
    throw std::runtime_error("cannot use TLS key " + key_file + " with certificate " + cert_file +
                             ": " + ec.message());
  if (::SSL_CTX_check_private_key(ctx.native_handle()) != 1)
    throw std::runtime_error("TLS key " + key_file + " does not match certificate " + cert_file);
  return ctx;
}

}  // namespace detail

void check_server_tls(const std::string& cert_file, const std::string& key_file) {
  detail::load_server_tls(cert_file, key_file);
}

}  // namespace bettensor::transport
