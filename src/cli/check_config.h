// `nodeops check-config FILE`: validates a gateway, exporter or stack config and prints every
// error as file:line: key: message. Exit 0 when valid, 2 when not.
#pragma once

#include <CLI/CLI.hpp>

namespace nodeops::cli {
void add_check_config_command(CLI::App& app);
}
