// Self-signed TLS certificates for tests, made with OpenSSL in a temporary directory: each one is
// its own CA (basicConstraints CA:TRUE), so a client trusting its PEM file accepts exactly it.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace bettensor::test {

struct tls_files {
  std::filesystem::path cert;  // PEM certificate, also the CA file a client trusts
  std::filesystem::path key;   // PEM private key
};

/// Writes `<dir>/<name>.crt` and `<dir>/<name>.key`: a P-256 key and a certificate valid from an
/// hour ago for a day, for the subject alternative names `san` (e.g. "DNS:localhost,IP:127.0.0.1").
inline tls_files make_tls_files(const std::filesystem::path& dir, const std::string& name,
                                const std::string& san = "DNS:localhost,IP:127.0.0.1") {
  const auto check = [](bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("test certificate: ") + what);
  };
  std::unique_ptr<EVP_PKEY, decltype(&::EVP_PKEY_free)> key(::EVP_EC_gen("P-256"),
                                                            &::EVP_PKEY_free);
  check(key != nullptr, "key generation");
  std::unique_ptr<X509, decltype(&::X509_free)> cert(::X509_new(), &::X509_free);
  check(cert != nullptr, "X509_new");
  ::X509_set_version(cert.get(), 2);
  ::ASN1_INTEGER_set(::X509_get_serialNumber(cert.get()), 1);
  ::X509_gmtime_adj(::X509_getm_notBefore(cert.get()), -3600);
  ::X509_gmtime_adj(::X509_getm_notAfter(cert.get()), 86400);
  ::X509_set_pubkey(cert.get(), key.get());
  X509_NAME* subject = ::X509_get_subject_name(cert.get());
  const std::string cn = "bettensor test " + name;
  ::X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  ::X509_set_issuer_name(cert.get(), subject);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, san},
                                   {NID_basic_constraints, std::string("critical,CA:TRUE")}}) {
    X509_EXTENSION* ext = ::X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    check(ext != nullptr, "extension");
    ::X509_add_ext(cert.get(), ext, -1);
    ::X509_EXTENSION_free(ext);
  }
  check(::X509_sign(cert.get(), key.get(), ::EVP_sha256()) > 0, "signing");

  tls_files out{dir / (name + ".crt"), dir / (name + ".key")};
  std::unique_ptr<FILE, decltype(&::fclose)> c(std::fopen(out.cert.c_str(), "w"), &::fclose);
  std::unique_ptr<FILE, decltype(&::fclose)> k(std::fopen(out.key.c_str(), "w"), &::fclose);
  check(c && k, "cannot write the files");
  check(::PEM_write_X509(c.get(), cert.get()) == 1, "PEM_write_X509");
  check(::PEM_write_PrivateKey(k.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_PrivateKey");
  return out;
}

}  // namespace bettensor::test
