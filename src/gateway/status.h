// The admin port's read-only views: /status as JSON and / as a self-refreshing HTML page.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gateway/metrics.h"
#include "gateway/router.h"

namespace nodeops::gateway {

/// The pool state of every chain as JSON (the body of GET /status).
std::string status_json(const std::vector<std::unique_ptr<ChainRuntime>>& chains,
                        bool draining);

}  // namespace nodeops::gateway
