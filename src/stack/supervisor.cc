#include "stack/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/log.h"

namespace nodeops::stack {
namespace fs = std::filesystem;

const char* to_string(ChildState s) {
  switch (s) {
    case ChildState::running: return "running";
    case ChildState::restarting: return "restarting";
    case ChildState::exited: return "exited";
    case ChildState::missing: return "missing";
    case ChildState::stopped: return "stopped";
  }
  return "?";
}

std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    auto end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    auto candidate = p.substr(start, end - start) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

bool Supervisor::spawn(Child& c) {
  pid_t parent = getpid();
  // Built before fork(): the lockstep miner's threads run meanwhile, and the child of a
  // multi-threaded process should not allocate before execv.
  std::vector<char*> args;
  for (auto& a : c.spec.argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    // Child: die with the supervisor, own process group so Ctrl-C reaches us first.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    setpgid(0, 0);
    int fd = open(c.spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  c.pid = pid;
  c.state = ChildState::running;
  c.started = std::chrono::steady_clock::now();
  log::info("started", {{"child", c.spec.name}, {"pid", pid}, {"log", c.spec.log_path}});
  return true;
}

void Supervisor::start(ChildSpec spec) {
  Child c;
  c.spec = std::move(spec);
  if (c.spec.argv.empty() || access(c.spec.argv[0].c_str(), X_OK) != 0) {
    c.state = ChildState::missing;
    log::warn("program missing; the rest of the stack starts without it",
              {{"child", c.spec.name}, {"program", c.spec.argv.empty() ? "" : c.spec.argv[0]},
               {"install", c.spec.install_hint}});
  } else {
    spawn(c);
  }
  children_.push_back(std::move(c));
}

void Supervisor::run(const std::atomic<bool>& stop, const std::function<void()>& on_change) {
  while (!stop.load()) {
    bool changed = false;
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      for (auto& c : children_) {
        if (c.pid != pid) continue;
        c.pid = -1;
        c.last_status = status;
        changed = true;
        auto up = std::chrono::steady_clock::now() - c.started;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (!restart_) {
          c.state = ChildState::exited;
          log::warn("child exited", {{"child", c.spec.name}, {"status", code}});
          continue;
        }
        // Backoff doubles per quick crash (1s, 2s, 4s ... 30s) and resets after a minute of uptime.
        if (up > std::chrono::minutes(1)) c.restarts = 0;
        auto delay = std::chrono::seconds(std::min(30, 1 << std::min(c.restarts, 5)));
        c.restarts++;
        c.state = ChildState::restarting;
        c.restart_at = std::chrono::steady_clock::now() + delay;
        log::warn("child exited; restarting", {{"child", c.spec.name}, {"status", code},
                                               {"restart_in_s", static_cast<int64_t>(delay.count())}});
      }
    }
    auto now = std::chrono::steady_clock::now();
    for (auto& c : children_) {
      if (c.state == ChildState::restarting && now >= c.restart_at) {
        spawn(c);
        changed = true;
      }
    }
    if (changed && on_change) on_change();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void Supervisor::stop_all(std::chrono::milliseconds grace) {
  for (auto& c : children_) {
    if (c.pid > 0) {
      kill(c.pid, SIGTERM);
      // A child frozen with SIGSTOP (how one simulates a hung node) would hold SIGTERM pending
      // until the grace period ends; wake it so it can exit now.
      kill(c.pid, SIGCONT);
    }
    if (c.state == ChildState::restarting) c.state = ChildState::stopped;
  }
  auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    bool alive = false;
    for (auto& c : children_) {
      if (c.pid <= 0) continue;
      int status;
      pid_t r = waitpid(c.pid, &status, WNOHANG);
      if (r == c.pid || (r < 0 && errno == ECHILD)) {
        c.pid = -1;
        c.state = ChildState::stopped;
      } else {
        alive = true;
      }
    }
    if (!alive) return;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& c : children_) {
    if (c.pid > 0) {
      log::warn("child ignored SIGTERM; killing", {{"child", c.spec.name}});
      kill(c.pid, SIGKILL);
      waitpid(c.pid, nullptr, 0);
      c.pid = -1;
      c.state = ChildState::stopped;
    }
  }
}

}  // namespace nodeops::stack
