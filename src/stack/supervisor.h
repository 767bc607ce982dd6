// Starts child processes, restarts the ones that crash (with exponential backoff), and stops them
// all on request. Children get PR_SET_PDEATHSIG, so even a SIGKILLed `nodeops up` leaves no orphan.
// Single-threaded: run() polls waitpid from the calling thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace nodeops::stack {

struct ChildSpec {
  std::string name;
  std::vector<std::string> argv;  // argv[0] is the program path
  std::string log_path;           // stdout and stderr go here
  std::string url;                // what it serves, for the table and `nodeops status`
  std::string install_hint;       // shown when the program is missing
};

enum class ChildState { running, restarting, exited, missing, stopped };
const char* to_string(ChildState s);

struct Child {
  ChildSpec spec;
  ChildState state = ChildState::stopped;
  pid_t pid = -1;
  int restarts = 0;
  int last_status = 0;
  std::chrono::steady_clock::time_point started, restart_at;
};

class Supervisor {
 public:
  explicit Supervisor(bool restart) : restart_(restart) {}
  /// Starts the child now; a missing program marks it `missing` and logs how to install it.
  void start(ChildSpec spec);
  /// Reaps and restarts until `stop` becomes true, calling `on_change` after any state change.
  void run(const std::atomic<bool>& stop, const std::function<void()>& on_change);
  /// SIGTERM to every child, SIGKILL to those still alive after `grace`; waits for all.
  void stop_all(std::chrono::milliseconds grace);
  const std::vector<Child>& children() const { return children_; }

 private:
  bool spawn(Child& c);
  bool restart_;
  std::vector<Child> children_;
};

/// Resolves a program name through PATH; returns "" when it is not there.
std::string find_program(const std::string& name);

}  // namespace nodeops::stack
