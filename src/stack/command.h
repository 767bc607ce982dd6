// CLI wiring of `nodeops up` and `nodeops status`.
#pragma once

#include <CLI/CLI.hpp>

namespace nodeops::stack {
void add_stack_commands(CLI::App& app);
}
