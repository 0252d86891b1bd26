// The miner's side of TLS (wss:// and https:// validators): a context trusting the system store or
// a given CA file, SNI and host name checks, and failures worded for the operator (private to the
// module).
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/ssl.hpp>

#include <stdexcept>
#include <string>

#include "asio_support.hpp"

namespace bettensor::transport::detail {

namespace ssl = net::ssl;

/// Trusts `ca_file` (PEM) or, when empty, the system's certificates. Throws std::invalid_argument
/// naming the file when it cannot be read.
inline ssl::context make_client_tls(const std::string& ca_file) {
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  beast::error_code ec;
  if (ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
    if (ec)
      throw std::invalid_argument("cannot load the system's CA certificates: " + ec.message());
  } else {
    ctx.load_verify_file(ca_file, ec);
    if (ec)
      throw std::invalid_argument("cannot use CA file " + ca_file + ": " + ec.message() +
                                  " (expected PEM certificates)");
  }
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

/// Before the handshake: send the host name (SNI, names only) and check the certificate for it.
/// OpenSSL's own check, so a mismatch is reported as one ("hostname mismatch").
template <class Stream>
void prepare_client_tls(Stream& stream, const std::string& host) {
  SSL* ssl = stream.native_handle();
  beast::error_code ec;
  net::ip::make_address(host, ec);
  if (ec) {  // a name
    ::SSL_set_tlsext_host_name(ssl, host.c_str());
    ::SSL_set1_host(ssl, host.c_str());
  } else {
    ::X509_VERIFY_PARAM_set1_ip_asc(::SSL_get0_param(ssl), host.c_str());
  }
  stream.set_verify_mode(ssl::verify_peer);
}

/// Why a client handshake failed, in words: the certificate problem when there was one.
template <class Stream>
std::string tls_failure(Stream& stream, const beast::error_code& ec, const std::string& ca_file) {
  const long verify = ::SSL_get_verify_result(stream.native_handle());
  if (verify != X509_V_OK) {
    return std::string("bad TLS certificate: ") + ::X509_verify_cert_error_string(verify) +
           " (trusted: " + (ca_file.empty() ? "the system's CA certificates" : ca_file) + ")";
  }
  return "TLS handshake failed: " + ec.message();
}

}  // namespace bettensor::transport::detail
