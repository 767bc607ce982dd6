#include "core/http_tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/concurrent.h"
#include "core/log.h"
#include "core/metrics.h"

namespace nodeops::http {
namespace ssl = boost::asio::ssl;

namespace {

// OpenSSL's reason for the last failure ("no start line", "key values mismatch"), or `fallback`.
std::string openssl_reason(std::string fallback) {
  unsigned long e = 0, last = 0;
  while ((e = ERR_get_error()) != 0) last = e;
  if (last == 0) return fallback;
  const char* r = ERR_reason_error_string(last);
  return r ? std::string(r) : fallback;
}

// Only http/1.1 is spoken: a client offering h2 first must not pick it.
int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                  void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof(kHttp11), in, inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no ALPN agreed: plain HTTP/1.1 anyway
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

std::string digest(const std::string& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(md), n);
}

}  // namespace

namespace {
std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

std::optional<ServerTlsContext> load_server_tls(const std::string& cert_file, const std::string& key_file,
                                                std::string* why) {
  auto cert = read_file(cert_file);
  auto key = read_file(key_file);
  if (!cert || !key) {
    if (why) *why = "cannot read " + (cert ? key_file : cert_file);
    return std::nullopt;
  }
  return load_server_tls_pem(*cert, *key, cert_file, key_file, why);
}

std::optional<ServerTlsContext> load_server_tls_pem(std::string_view cert_pem, std::string_view key_pem,
                                                    const std::string& cert_file, const std::string& key_file,
                                                    std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<ServerTlsContext> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  ERR_clear_error();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  // An idle keep-alive connection gives its record buffers back (about 34 KiB each).
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_alpn_select_cb(native, select_http11, nullptr);
  boost::system::error_code ec;
  ctx->use_certificate_chain(boost::asio::buffer(cert_pem.data(), cert_pem.size()), ec);
  if (ec) return fail("cannot load certificate " + cert_file + ": " + openssl_reason(ec.message()));
  ctx->use_private_key(boost::asio::buffer(key_pem.data(), key_pem.size()), ssl::context::pem, ec);
  if (ec) {
    auto reason = openssl_reason(ec.message());
    // OpenSSL checks the key against the certificate as it loads it.
    if (reason.find("mismatch") != std::string::npos)
      return fail("private key " + key_file + " does not match certificate " + cert_file + ": " + reason);
    return fail("cannot load private key " + key_file + ": " + reason);
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return fail("private key " + key_file + " does not match certificate " + cert_file + ": " +
                openssl_reason("key values mismatch"));
  }
  X509* leaf = SSL_CTX_get0_certificate(native);
  if (!leaf) return fail("no certificate in " + cert_file);
  ServerTlsContext out;
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) == 1) out.not_after = static_cast<double>(timegm(&tm));
  if (char* s = X509_NAME_oneline(X509_get_subject_name(leaf), nullptr, 0)) {
    out.subject = s;
    OPENSSL_free(s);
  }
  out.context = std::move(ctx);
  return out;
}

CertificateMetrics CertificateMetrics::declare(metrics::Registry& registry) {
  CertificateMetrics m;
  m.expiry = &registry.gauge("nodeops_gateway_tls_certificate_expiry_timestamp_seconds",
                             "When the certificate served to clients expires (notAfter, Unix seconds); no sample "
                             "without client-facing TLS.");
  auto& reloads = registry.counter("nodeops_gateway_tls_certificate_reloads_total",
                                   "Reloads of the client-facing certificate after its files changed, by result "
                                   "(ok, error: the previous certificate stays in use).",
                                   {"result"});
  m.reload_ok = &reloads.labels({"ok"});
  m.reload_error = &reloads.labels({"error"});
  m.handshake_failures = &registry
                              .counter("nodeops_gateway_tls_handshake_failures_total",
                                       "Client connections closed before their TLS handshake completed (no common "
                                       "protocol or cipher, plain HTTP on the TLS port, too slow: limits.read_timeout).")
                              .labels({});
  return m;
}

ServerCertificate::ServerCertificate(std::string cert_file, std::string key_file, CertificateMetrics metrics)
    : cert_file_(std::move(cert_file)),
      key_file_(std::move(key_file)),
      reload_ok_(metrics.reload_ok),
      reload_error_(metrics.reload_error),
      handshake_failures_(metrics.handshake_failures) {
  auto pem = read_both();
  seen_ = digest(pem.cert + '\0' + pem.key);
  std::string why;
  auto loaded = load_server_tls_pem(pem.cert, pem.key, cert_file_, key_file_, &why);
  if (!loaded) throw std::runtime_error(why);
  current_ = loaded->context;
  expiry_ = &metrics.expiry->labels({});
  expiry_->set(loaded->not_after);
}

ServerCertificate::~ServerCertificate() = default;

std::shared_ptr<ssl::context> ServerCertificate::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

ServerCertificate::Pem ServerCertificate::read_both() const {
  return {read_file(cert_file_).value_or(""), read_file(key_file_).value_or("")};
}

bool ServerCertificate::check() {
  auto pem = read_both();
  auto now = digest(pem.cert + '\0' + pem.key);
  if (now == seen_) return false;
  std::string why;
  auto loaded = load_server_tls_pem(pem.cert, pem.key, cert_file_, key_file_, &why);
  if (!loaded && !(read_both() == pem)) return false;  // caught mid-swap: read again next time
  seen_ = now;
  if (!loaded) {
    reload_error_->inc();
    log::error("TLS certificate rejected; the previous one stays in use", {{"cert_file", cert_file_}, {"error", why}});
    return false;
  }
  {
    std::lock_guard lock(mu_);
    current_ = loaded->context;
  }
  expiry_->set(loaded->not_after);
  reload_ok_->inc();
  log::info("TLS certificate reloaded", {{"cert_file", cert_file_},
                                         {"subject", loaded->subject},
                                         {"not_after", static_cast<int64_t>(loaded->not_after)}});
  return true;
}

void ServerCertificate::handshake_failed() { handshake_failures_->inc(); }

void ServerCertificate::watch(boost::asio::io_context& io, Duration interval) {
  every(io, interval, [this] { check(); }, "TLS certificate watch");
}

}  // namespace nodeops::http
