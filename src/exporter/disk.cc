#include "exporter/disk.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <filesystem>

#include "core/log.h"

namespace nodeops::exporter {

DiskUsage measure_disk(const std::string& dir, uint64_t max_entries) {
  DiskUsage out;
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) == 0) {
    out.size_bytes = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
    out.free_bytes = static_cast<uint64_t>(vfs.f_bfree) * vfs.f_frsize;
    out.available_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  } else {
    return out;
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) return out;
  uint64_t used = 0, entries = 0;
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0) used += static_cast<uint64_t>(st.st_blocks) * 512;
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      ec.clear();
      continue;
    }
    if (++entries > max_entries) return out;
    // Allocated blocks, as du counts them: sparse and preallocated files are what they occupy.
    if (::lstat(it->path().c_str(), &st) == 0) used += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  out.used_bytes = used;
  return out;
}

DiskWatcher::DiskWatcher(std::string dir, Duration period, std::function<void(const DiskUsage&)> sink)
    : dir_(std::move(dir)), period_(period), sink_(std::move(sink)), thread_([this] { run(); }) {}

DiskWatcher::~DiskWatcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void DiskWatcher::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    DiskUsage usage = measure_disk(dir_);
    if (!usage.size_bytes) log::warn("cannot stat data directory", {{"directory", std::string_view(dir_)}});
    sink_(usage);
    lock.lock();
    cv_.wait_for(lock, period_, [this] { return stop_; });
  }
}

}  // namespace nodeops::exporter
