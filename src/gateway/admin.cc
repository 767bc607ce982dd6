#include "gateway/admin.h"

#include <boost/asio.hpp>

#include "gateway/status.h"
#include "gateway/status_page.h"

namespace nodeops::gateway {
namespace asio = boost::asio;

struct AdminApi::Impl {
  const GatewayConfig& config;
  std::vector<std::unique_ptr<ChainRuntime>>& chains;
  GatewayMetrics& metrics;
  Router& router;
  asio::io_context& io;
};

AdminApi::AdminApi(const GatewayConfig& config, std::vector<std::unique_ptr<ChainRuntime>>& chains,
                   GatewayMetrics& metrics, Router& router, asio::io_context& io)
    : impl_(std::make_unique<Impl>(Impl{config, chains, metrics, router, io})) {}

AdminApi::~AdminApi() = default;

void AdminApi::start() {}

asio::awaitable<http::Response> AdminApi::handle(http::Request& req) {
  auto path = http::path_of(req.target);
  http::Response r;
  if (req.method == "GET" && path == "/metrics") {
    impl_->metrics.active_clients().set(impl_->router.active_clients().estimate(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count()));
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = impl_->metrics.registry().expose();
    co_return r;
  }
  if (req.method == "GET" && path == "/healthz") {
    r.body = "{\"status\":\"ok\"}";
    co_return r;
  }
  if (req.method == "GET" && path == "/readyz") co_return impl_->router.readiness();
  if (req.method == "GET" && path == "/status") {
    r.body = status_json(impl_->chains, impl_->metrics, false);
    co_return r;
  }
  if (req.method == "GET" && (path == "/" || path == "/index.html")) {
    r.content_type = "text/html; charset=utf-8";
    r.body = std::string(status_page_html());
    co_return r;
  }
  r.status = 404;
  r.body = "{\"error\":\"not found\"}";
  co_return r;
}

}  // namespace nodeops::gateway
