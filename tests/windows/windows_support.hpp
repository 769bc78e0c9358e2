// tests/windows/windows_support.hpp
//
// What the Windows tests (run under wine by tools/windows-test) need in
// place of the POSIX helpers of tests/support: a watchdog that bounds every
// test, child processes of the test binary started with CreateProcessW and
// waited for with a bound, named events to synchronise with them, work on
// another thread, and a unique directory for lock files.

#ifndef DREADLOCKS_TESTS_WINDOWS_WINDOWS_SUPPORT_HPP_
#define DREADLOCKS_TESTS_WINDOWS_WINDOWS_SUPPORT_HPP_

#include <windows.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace dreadlocks_windows_test {

namespace fs = std::filesystem;

// Every bounded wait in these tests.
inline constexpr DWORD kBoundMs = 20000;

// watchdog
//
// Ends the whole test binary (exit code 99, with a message naming `what`)
// unless destroyed within `limit`: a deadlock fails in seconds.
class watchdog {
 public:
  explicit watchdog(std::string what,
                    std::chrono::milliseconds limit = std::chrono::seconds(30))
      : thread_([this, what = std::move(what), limit] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (!done_changed_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "watchdog: \"%s\" still running: deadlock?\n",
                         what.c_str());
            std::fflush(stderr);
            ::TerminateProcess(::GetCurrentProcess(), 99);
          }
        }) {}
  ~watchdog() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    done_changed_.notify_all();
    thread_.join();
  }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable done_changed_;
  bool done_ = false;
  std::thread thread_;
};

// Throws std::system_error with the last Windows error, naming `what`.
[[noreturn]] inline void throw_last_error(const std::string& what) {
  throw std::system_error(static_cast<int>(::GetLastError()),
                          std::system_category(), what);
}

// event
//
// A named manual-reset event: a parent makes it, a child opens it by name.
class event {
 public:
  // Makes (or opens, if it exists) the event `name`.
  explicit event(const std::wstring& name)
      : handle_(::CreateEventW(nullptr, TRUE, FALSE, name.c_str())) {
    if (handle_ == nullptr) throw_last_error("CreateEventW");
  }
  ~event() { ::CloseHandle(handle_); }
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  void set() { ::SetEvent(handle_); }

  // True when set within `ms`.
  bool wait(DWORD ms = kBoundMs) {
    return ::WaitForSingleObject(handle_, ms) == WAIT_OBJECT_0;
  }

 private:
  HANDLE handle_;
};

// Returns a name unique to this process and call, for events.
inline std::wstring unique_name(const wchar_t* what) {
  static std::atomic<unsigned> counter{0};
  return std::wstring(L"dreadlocks-test-") + what + L"-" +
         std::to_wstring(::GetCurrentProcessId()) + L"-" +
         std::to_wstring(counter.fetch_add(1));
}

// Quotes one command-line argument for CommandLineToArgvW (no argument
// here has quotes or trailing backslashes before a quote but paths; they
// are quoted whole, backslashes before the closing quote doubled).
inline std::wstring quoted(const std::wstring& argument) {
  std::wstring out = L"\"";
  std::size_t backslashes = 0;
  for (wchar_t c : argument) {
    if (c == L'\\') {
      ++backslashes;
      out += c;
      continue;
    }
    if (c == L'"') out.append(backslashes + 1, L'\\');
    backslashes = 0;
    out += c;
  }
  out.append(backslashes, L'\\');
  return out + L"\"";
}

// child
//
// A child process of `program` with `arguments`, terminated (and waited
// for) if still running when destroyed.
class child {
 public:
  child(const std::wstring& program, const std::vector<std::wstring>& arguments) {
    std::wstring line = quoted(program);
    for (const std::wstring& each : arguments) line += L" " + quoted(each);
    STARTUPINFOW startup{};
    startup.cb = sizeof startup;
    PROCESS_INFORMATION info{};
    if (!::CreateProcessW(program.c_str(), line.data(), nullptr, nullptr,
                          FALSE, 0, nullptr, nullptr, &startup, &info)) {
      throw_last_error("CreateProcessW");
    }
    ::CloseHandle(info.hThread);
    process_ = info.hProcess;
  }
  ~child() {
    if (::WaitForSingleObject(process_, 0) == WAIT_TIMEOUT) {
      ::TerminateProcess(process_, 98);
      ::WaitForSingleObject(process_, kBoundMs);
    }
    ::CloseHandle(process_);
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  // True while the child runs.
  bool running() const {
    return ::WaitForSingleObject(process_, 0) == WAIT_TIMEOUT;
  }

  // Waits (bounded) for the child to end; returns its exit code, or -1 if
  // it is still running after the bound.
  int exit_code(DWORD ms = kBoundMs) const {
    if (::WaitForSingleObject(process_, ms) != WAIT_OBJECT_0) return -1;
    DWORD code = 0;
    ::GetExitCodeProcess(process_, &code);
    return static_cast<int>(code);
  }

  // Ends the child at once, as a crash would (TerminateProcess), and waits
  // for it.
  void kill() {
    ::TerminateProcess(process_, 97);
    ::WaitForSingleObject(process_, kBoundMs);
  }

 private:
  HANDLE process_ = nullptr;
};

// Returns this program's path.
inline std::wstring self_path() {
  std::wstring path(32768, L'\0');
  const DWORD length = ::GetModuleFileNameW(nullptr, path.data(),
                                            static_cast<DWORD>(path.size()));
  path.resize(length);
  return path;
}

// Runs `work` on another thread; returns what it threw, or nullptr.
inline std::exception_ptr on_thread(const std::function<void()>& work) {
  std::exception_ptr thrown;
  std::thread([&] {
    try {
      work();
    } catch (...) {
      thrown = std::current_exception();
    }
  }).join();
  return thrown;
}

// A fresh directory under the temporary directory, removed with what it
// holds when the object is destroyed.
class temp_dir {
 public:
  temp_dir()
      : path_(fs::temp_directory_path() /
              (L"dreadlocks-windows-" + unique_name(L"dir"))) {
    fs::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace dreadlocks_windows_test

#endif  // DREADLOCKS_TESTS_WINDOWS_WINDOWS_SUPPORT_HPP_
