#include "core/tls_client.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace nodeops::http::tls {

std::string error_text() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

ContextPtr make_context(const TlsOptions& options, std::string& error) {
  ContextPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    error = "cannot create a TLS context: " + error_text();
    return ctx;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  ERR_clear_error();
  if (!options.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), options.ca_file.c_str(), nullptr) != 1) {
      error = "ca_file " + options.ca_file + ": " + error_text();
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    error = "system CA certificates: " + error_text();
  }
  return ctx;
}

bool is_ip_literal(const std::string& host) {
  return host.find_first_not_of("0123456789.") == std::string::npos || host.find(':') != std::string::npos;
}

void expect_peer(SSL* session, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(session);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (is_ip_literal(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    SSL_set_tlsext_host_name(session, host.c_str());
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  }
}

std::string handshake_failure(SSL* session, const std::string& fallback) {
  if (long v = SSL_get_verify_result(session); v != X509_V_OK) {
    return std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
  }
  return fallback;
}

}  // namespace nodeops::http::tls
