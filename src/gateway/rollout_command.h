// `nodeops rollout switch|status|abort`: the operator's side of the gateway's /admin/rollout API.
#pragma once

#include <CLI/CLI.hpp>

namespace nodeops::gateway {
void add_rollout_command(CLI::App& app);
}
