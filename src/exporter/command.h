// `nodeops exporter`: the CLI11 subcommand. main.cc calls add_exporter_command(app) and nothing
// else; flags are those of docs/interfaces.md.
#pragma once

namespace CLI {
class App;
}

namespace nodeops::exporter {

/// @brief Registers `exporter` on `app`; its callback runs the exporter and exits the process
/// with run_exporter()'s code (2 for a bad config or bad flags).
void add_exporter_command(CLI::App& app);

}  // namespace nodeops::exporter
