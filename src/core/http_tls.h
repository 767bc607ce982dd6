// Client-facing TLS for the HTTP server (installs without a TLS-terminating load balancer): the
// server's certificate and key, loaded from PEM files and reloaded when they change on disk.
//
// cert-manager renews a certificate into a mounted Kubernetes Secret by swapping a symlink: the
// watch reads both files every `interval` and, when their bytes changed, builds a new TLS context.
// New connections get the new context; open ones keep the one they were accepted with, so a
// renewal drops nothing. A pair that does not load (a half-written file, a key that does not
// match) is logged and counted, and the previous certificate stays in use; it is tried again only
// once the files change again, so a broken Secret costs one log line, not one per interval.
//
// Protocol: TLS 1.2 and 1.3 only, OpenSSL's default (modern) cipher lists, ALPN `http/1.1`.
//
// Metrics (CertificateMetrics::declare, whether TLS is on or not, so that rules and dashboards find
// the families; the expiry has a sample only while a certificate is served):
//   nodeops_gateway_tls_certificate_expiry_timestamp_seconds  notAfter of the certificate served
//   nodeops_gateway_tls_certificate_reloads_total{result=ok|error}
//   nodeops_gateway_tls_handshake_failures_total  connections closed before their handshake completed
//
// Threads: current() from any traffic loop; check() and watch() on one loop (the admin loop).
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/units.h"

namespace boost::asio::ssl {
class context;
}

#include "core/metrics.h"

namespace nodeops::http {

/// @brief A loaded certificate chain and key as a server TLS context, with the certificate's expiry.
struct ServerTlsContext {
  std::shared_ptr<boost::asio::ssl::context> context;
  double not_after = 0;  // Unix seconds
  std::string subject;   // for log lines
};

/// Loads `cert_file` (PEM chain, leaf first) and `key_file` (PEM private key) and checks that they
/// belong together. nullopt with `why` set (OpenSSL's reason, never key bytes) when they do not load.
std::optional<ServerTlsContext> load_server_tls(const std::string& cert_file, const std::string& key_file,
                                                std::string* why);
/// The same from the files' bytes (`cert_file` and `key_file` only name them in `why`).
std::optional<ServerTlsContext> load_server_tls_pem(std::string_view cert_pem, std::string_view key_pem,
                                                    const std::string& cert_file, const std::string& key_file,
                                                    std::string* why);

/// @brief The families a served certificate reports in.
struct CertificateMetrics {
  metrics::Family<metrics::Gauge>* expiry = nullptr;  // its one series appears with a certificate
  metrics::Counter* reload_ok = nullptr;
  metrics::Counter* reload_error = nullptr;
  metrics::Counter* handshake_failures = nullptr;
  static CertificateMetrics declare(metrics::Registry& registry);
};

/// @brief The certificate the server presents, reloaded when its files change.
class ServerCertificate {
 public:
  /// Loads the pair now: throws std::runtime_error saying why when it does not load.
  ServerCertificate(std::string cert_file, std::string key_file, CertificateMetrics metrics);
  ~ServerCertificate();

  /// The context for a new connection.
  std::shared_ptr<boost::asio::ssl::context> current() const;
  /// Reloads when the files' bytes changed; true when a new certificate is in use. A pair that
  /// does not load while the files are still changing (read between a swap's two renames) is
  /// not an error yet: the next check reads them again.
  bool check();
  /// Calls check() every `interval` on `io` until the io_context stops.
  void watch(boost::asio::io_context& io, Duration interval);
  /// A client's handshake failed or timed out (any thread): counted, not logged (clients choose).
  void handshake_failed();

 private:
  struct Pem {
    std::string cert, key;
    bool operator==(const Pem&) const = default;
  };
  Pem read_both() const;

  std::string cert_file_, key_file_;
  std::string seen_;  // both files' bytes at the last attempt (hashed: they hold a key)
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_;
  metrics::Gauge* expiry_;
  metrics::Counter* reload_ok_;
  metrics::Counter* reload_error_;
  metrics::Counter* handshake_failures_;
};

}  // namespace nodeops::http
