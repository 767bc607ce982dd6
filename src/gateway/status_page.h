// The status page served at / on the admin port: one self-contained HTML document (no external
// assets) that polls /status and draws each chain's upstreams with their recent history.
#pragma once

#include <string_view>

namespace nodeops::gateway {
std::string_view status_page_html();
}
