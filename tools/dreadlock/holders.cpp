// tools/dreadlock/holders.cpp

#include "tools/dreadlock/holders.hpp"

#include <cerrno>
#include <system_error>

#if defined(__linux__)
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "tools/dreadlock/lock_wait_probe.hpp"
#endif

namespace dreadlock_cli {

const char* to_string(holder_state state) noexcept {
  switch (state) {
    case holder_state::holds:
      return "holds";
    case holder_state::waits:
      return "waits";
    case holder_state::open:
      return "open";
  }
  return "?";
}

#if defined(__linux__)

namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool all_digits(const char* name) {
  if (*name == '\0') return false;
  for (; *name != '\0'; ++name) {
    if (*name < '0' || *name > '9') return false;
  }
  return true;
}

std::string command_of(long pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  std::string command = read_file(base + "/cmdline").value_or("");
  while (!command.empty() && command.back() == '\0') command.pop_back();
  std::replace(command.begin(), command.end(), '\0', ' ');
  if (!command.empty()) return command;
  std::string name = read_file(base + "/comm").value_or("?");
  while (!name.empty() && name.back() == '\n') name.pop_back();
  return "[" + name + "]";
}

// The rows found so far. A row merges into one with the same pid and
// state whose family and mode agree (an unknown one agrees with any).
class holder_table {
 public:
  holder& add(long pid, holder_state state, std::optional<lock_family> family,
              std::optional<bool> exclusive) {
    for (auto& row : rows_) {
      if (row.pid != pid || row.state != state || pid < 0) continue;
      if (family && row.family && *family != *row.family) continue;
      if (exclusive && row.exclusive && *exclusive != *row.exclusive) continue;
      if (!row.family) row.family = family;
      if (!row.exclusive) row.exclusive = exclusive;
      return row;
    }
    holder row;
    row.pid = pid;
    row.state = state;
    row.family = family;
    row.exclusive = exclusive;
    rows_.push_back(row);
    return rows_.back();
  }

  bool has(holder_state state, lock_family family) const {
    return std::any_of(rows_.begin(), rows_.end(), [&](const holder& row) {
      return row.state == state && row.family == family;
    });
  }

  std::vector<holder>& rows() { return rows_; }

 private:
  std::vector<holder> rows_;
};

struct target_file {
  dev_t device;
  ino_t inode;
  std::set<std::string> device_names;  // as /proc prints them, "fe:00"
};

std::string device_name(dev_t device) {
  char text[32];
  std::snprintf(text, sizeof text, "%02x:%02x", ::major(device),
                ::minor(device));
  return text;
}

// A descriptor of the target that holds no lock: a waiter, or just open.
struct lockless_descriptor {
  long pid;
  int fd;
  lock_wait wait;
};

// Adds the holds rows of the process's descriptors of the file, and
// returns its descriptors that hold nothing.
void scan_process(long pid, target_file& target, holder_table& table,
                  std::vector<lockless_descriptor>& lockless) {
  const std::string base = "/proc/" + std::to_string(pid);
  DIR* dir = ::opendir((base + "/fd").c_str());
  if (dir == nullptr) return;  // gone, or another user's
  while (const dirent* entry = ::readdir(dir)) {
    if (!all_digits(entry->d_name)) continue;
    struct ::stat info;
    if (::stat((base + "/fd/" + entry->d_name).c_str(), &info) != 0 ||
        info.st_dev != target.device || info.st_ino != target.inode) {
      continue;
    }
    const int fd = std::stoi(entry->d_name);
    bool holds = false;
    const auto fdinfo = read_file(base + "/fdinfo/" + entry->d_name);
    for (const auto& line : lines_of(fdinfo.value_or(""))) {
      if (line.compare(0, 5, "lock:") != 0) continue;
      const auto lock = parse_proc_lock_line(line);
      if (!lock || lock->waiting) continue;
      target.device_names.insert(lock->device);
      holder& row =
          table.add(pid, holder_state::holds, lock->family, lock->exclusive);
      row.descriptors.push_back(fd);
      holds = true;
    }
    if (!holds) lockless.push_back({pid, fd, probe_lock_wait(pid, fd)});
  }
  ::closedir(dir);
}

std::vector<proc_lock_line> locks_on(const target_file& target) {
  const auto text = read_file("/proc/locks");
  if (!text) {
    throw std::system_error(errno ? errno : EIO, std::generic_category(),
                            "cannot read /proc/locks");
  }
  std::vector<proc_lock_line> found;
  for (const auto& line : lines_of(*text)) {
    const auto lock = parse_proc_lock_line(line);
    if (lock && lock->inode == target.inode &&
        target.device_names.count(lock->device) != 0) {
      found.push_back(*lock);
    }
  }
  return found;
}

// Attributes the locks of /proc/locks the descriptor scan could not see:
// POSIX and flock ones by their pid; OFD waiters to descriptors whose
// process's system calls could not be read; OFD locks and waiters of
// processes this user cannot see to rows without pid.
void add_proc_locks(const std::vector<proc_lock_line>& locks,
                    const std::vector<lockless_descriptor>& lockless,
                    holder_table& table, holders_report& report) {
  std::vector<proc_lock_line> ofd_waiters;
  std::vector<proc_lock_line> ofd_granted;
  for (const auto& lock : locks) {
    // Every kind decides: dreadlock takes flock(2) and OFD locks, and
    // meets flock(1) users and path_lock users alike.
    if (!lock.waiting) {
      report.refuses_exclusive = true;
      if (lock.exclusive) report.refuses_shared = true;
    }
    if (lock.pid > 0) {
      table.add(lock.pid,
                lock.waiting ? holder_state::waits : holder_state::holds,
                lock.family, lock.exclusive);
    } else if (lock.family == lock_family::ofd) {
      (lock.waiting ? ofd_waiters : ofd_granted).push_back(lock);
    }
  }
  std::optional<bool> waiters_mode;
  if (!ofd_waiters.empty() &&
      std::all_of(ofd_waiters.begin(), ofd_waiters.end(), [&](const auto& w) {
        return w.exclusive == ofd_waiters.front().exclusive;
      })) {
    waiters_mode = ofd_waiters.front().exclusive;
  }
  for (const auto& descriptor : lockless) {
    const auto& wait = descriptor.wait;
    holder* row = nullptr;
    if (wait.what == lock_wait::state::waiting) {
      row = &table.add(descriptor.pid, holder_state::waits, wait.family,
                       wait.exclusive ? wait.exclusive : waiters_mode);
    } else if (wait.what == lock_wait::state::unknown && !ofd_waiters.empty()) {
      row = &table.add(descriptor.pid, holder_state::waits, lock_family::ofd,
                       waiters_mode);
    } else {
      row = &table.add(descriptor.pid, holder_state::open, std::nullopt,
                       std::nullopt);
    }
    row->descriptors.push_back(descriptor.fd);
  }
  if (!table.has(holder_state::holds, lock_family::ofd)) {
    for (const auto& lock : ofd_granted) {
      table.add(-1, holder_state::holds, lock_family::ofd, lock.exclusive);
    }
  }
  if (!table.has(holder_state::waits, lock_family::ofd)) {
    for (const auto& lock : ofd_waiters) {
      table.add(-1, holder_state::waits, lock_family::ofd, lock.exclusive);
    }
  }
}

}  // namespace

holders_report find_holders(const std::string& path) {
  holders_report report;
  struct ::stat info;
  if (::stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return report;  // free
    throw std::system_error(errno, std::generic_category(), "stat");
  }
  target_file target{info.st_dev, info.st_ino, {device_name(info.st_dev)}};
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    throw std::system_error(errno, std::generic_category(),
                            "cannot read /proc");
  }
  holder_table table;
  std::vector<lockless_descriptor> lockless;
  while (const dirent* entry = ::readdir(proc)) {
    if (all_digits(entry->d_name)) {
      scan_process(std::stol(entry->d_name), target, table, lockless);
    }
  }
  ::closedir(proc);
  add_proc_locks(locks_on(target), lockless, table, report);
  for (auto& row : table.rows()) {
    std::sort(row.descriptors.begin(), row.descriptors.end());
    row.descriptors.erase(
        std::unique(row.descriptors.begin(), row.descriptors.end()),
        row.descriptors.end());
    row.command =
        row.pid > 0 ? command_of(row.pid) : "(not visible to this user)";
  }
  report.holders = std::move(table.rows());
  std::stable_sort(report.holders.begin(), report.holders.end(),
                   [](const holder& a, const holder& b) {
                     if (a.state != b.state) return a.state < b.state;
                     return a.pid < b.pid;
                   });
  return report;
}

#else  // !__linux__

holders_report find_holders(const std::string&) {
  throw std::system_error(ENOSYS, std::generic_category(),
                          "--holders needs Linux's /proc");
}

#endif

}  // namespace dreadlock_cli
