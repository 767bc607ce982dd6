// The client side of TLS towards an origin, shared by the HTTP client (http_client.cc, OpenSSL on
// the raw socket) and the WebSocket client (ws_client.cc, Asio's SSL stream): one trust store and
// one verification policy, so an https and a wss upstream are refused for the same reasons with
// the same words. Internal to core/.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "core/http.h"

namespace nodeops::http::tls {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using ContextPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

/// OpenSSL's queued errors on this thread as text (empty when none); drains the queue.
std::string error_text();

/// A client context: the trust store (the system's CAs, or `ca_file` alone when set), peer
/// verification on, TLS 1.2 at least, no compression. `error` says why it cannot be used (the
/// context is then still returned, or null when OpenSSL could not make one).
ContextPtr make_context(const TlsOptions& options, std::string& error);

/// Whether `host` is an IP literal (verified as an IP address, no SNI) rather than a name.
bool is_ip_literal(const std::string& host);

/// Prepares a session before its handshake: SNI for host names (providers serve many names on one
/// address) and the name or IP its certificate must carry, without partial wildcards.
void expect_peer(SSL* session, const std::string& host);

/// Why a handshake that failed failed: the certificate's own reason when verification refused it
/// ("certificate verify failed: certificate has expired"), else `fallback`.
std::string handshake_failure(SSL* session, const std::string& fallback);

}  // namespace nodeops::http::tls
