// tests/process/fork_first_use_test.cpp
//
// A fork() taken at any instant of the library's first use leaves a child
// that can lock (issue 12, item 2; docs/process-level.md#fork).
//
// For N = 1, 2, 3, ...: the test process (which never uses the library
// itself) forks a fresh child C. In C, thread T takes the first lock ever;
// a hook pauses T at its N-th "instant": each memory allocation (this
// binary replaces operator new), and the moments just before and just
// after each call of pthread_atfork (this binary defines pthread_atfork).
// While T is paused, C's main thread forks a grandchild G, which must take
// a lock of the same kind on another file and exit 0 within its alarm();
// then T goes on and must finish its lock. The scan ends at the first N
// that T's lock does not reach. Each lock type gets its own scan: path_lock
// (both registries), thread_level_path_lock and process_level_path_lock.
//
// The fork may have to wait: the library's fork handlers hold a fork while
// T publishes a registry or holds a registry mutex. So C has a third thread
// R that lets T go once the fork returned, or once C's main thread is seen
// blocked in futex(2) (in a fork handler, waiting for a mutex T holds). R
// polls with a 1 ms bound and never sleeps to order anything; whichever
// way T is let go, the outcome asserted is the same. C reports whether the
// fork was seen to wait (the scan prints how many did).
//
// Interposing pthread_atfork: since glibc 2.34 pthread_atfork is linked
// into each module from libc_nonshared.a and calls the exported
// __register_atfork(prepare, parent, child, dso_handle); libc.so.6 keeps
// pthread_atfork only as a compat symbol, so dlsym(RTLD_NEXT,
// "pthread_atfork") is not the way to reach the real one. The definition
// below (in the executable, which the library's header is compiled into)
// does what glibc's does after its pause. It works plain, under
// AddressSanitizer and under ThreadSanitizer (neither intercepts
// pthread_atfork; the scan asserts that the pthread_atfork instants were
// reached).
//
// ThreadSanitizer: C is forked from the single-threaded test process, so
// it may start threads; G is forked from a multi-threaded C and starts
// none, which ThreadSanitizer allows with its default die_after_fork=1.
// T and R end only after the fork returned (in G, ThreadSanitizer reports
// a thread that had ended unjoined as leaked). Everything T reads without
// a mutex while the fork waits and G's fork handler then writes is atomic
// in the library (ThreadSanitizer cannot tell that G's copy is another
// process's memory); the whole test runs plain, under AddressSanitizer and
// under ThreadSanitizer, nothing skipped.

#define BOOST_TEST_MODULE fork_first_use_test
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <thread>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_path.hpp"
#include "tests/support/watchdog.hpp"

// No nothing_left_behind fixture here: it would make the registries (and
// register their fork handlers) before the first use each case scans.

// glibc's registration, which its pthread_atfork calls (see above).
extern "C" int __register_atfork(void (*prepare)(void), void (*parent)(void),
                                 void (*child)(void), void* dso_handle);

namespace {

// What T was doing when it paused.
enum instant_kind : int {
  allocation = 0,
  before_atfork = 1,
  after_atfork = 2,
  kinds = 3
};

const char* describe(int kind) {
  switch (kind) {
    case allocation:
      return "a memory allocation";
    case before_atfork:
      return "just before pthread_atfork";
    case after_atfork:
      return "just after pthread_atfork";
    default:
      return "?";
  }
}

// The hook's state, in C: T counts its instants and pauses at pause_at.
thread_local bool counting = false;  // set by T alone
std::atomic<int> instants{0};
std::atomic<int> pause_at{0};
std::atomic<int> paused_kind{-1};
int paused_pipe[2] = {-1, -1};  // T -> main: paused
int go_pipe[2] = {-1, -1};      // R -> T: go on

// Exit codes of C: the kind of the instant G was forked at, plus `kinds`
// if the fork was seen to wait for T; or one of these.
constexpr int kBeyondLastInstant = 10;
constexpr int kLockFailed = 21;
constexpr int kGrandchildFailed = 22;
constexpr int kNeitherPausedNorDone = 23;
constexpr int kNotDoneAfterRelease = 24;
constexpr int kNeverLetGo = 25;
constexpr int kPipe = 26;

// Waits up to `limit` for `fd` to be readable, then reads one byte.
bool read_within(int fd, std::chrono::milliseconds limit) {
  pollfd entry{fd, POLLIN, 0};
  const auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    const int ready = ::poll(&entry, 1, left.count() > 0 ? left.count() : 0);
    if (ready > 0) {
      char byte;
      return ::read(fd, &byte, 1) == 1;
    }
    if (ready == 0 || errno != EINTR) return false;
  }
}

void write_byte(int fd) {
  const char byte = 1;
  while (::write(fd, &byte, 1) < 0 && errno == EINTR) {
  }
}

// Counts an instant of T; pauses T at the chosen one until R lets it go.
void instant(instant_kind kind) noexcept {
  if (!counting) return;
  if (instants.fetch_add(1) + 1 != pause_at.load()) return;
  paused_kind.store(kind);
  write_byte(paused_pipe[1]);
  if (!read_within(go_pipe[0], std::chrono::seconds(20))) ::_exit(kNeverLetGo);
}

// Held around each allocation and release, and by a fork from its
// prepare handler (registered in C before T starts, so that it runs after
// the library's, which may wait for T) to its parent and child handlers.
// glibc's malloc is locked across fork(), but AddressSanitizer's allocator
// (GCC 12) is not: a fork taken while T, let go by R, is inside malloc left
// G's allocator locked, and G hung at its first allocation (2 runs in 10
// under ASan). The gate keeps forks out of T's allocations.
std::mutex allocation_gate;

void close_allocation_gate() { allocation_gate.lock(); }
void open_allocation_gate() { allocation_gate.unlock(); }

}  // namespace

void* operator new(std::size_t size) {
  instant(allocation);
  void* block;
  {
    const std::lock_guard<std::mutex> gate(allocation_gate);
    block = std::malloc(size == 0 ? 1 : size);
  }
  if (block == nullptr) throw std::bad_alloc();
  return block;
}

void operator delete(void* block) noexcept {
  const std::lock_guard<std::mutex> gate(allocation_gate);
  std::free(block);
}

void operator delete(void* block, std::size_t) noexcept {
  const std::lock_guard<std::mutex> gate(allocation_gate);
  std::free(block);
}

extern "C" int pthread_atfork(void (*prepare)(void), void (*parent)(void),
                              void (*child)(void)) {
  instant(before_atfork);
  // The module handle only matters to dlclose(), which never unloads the
  // executable.
  const int result = __register_atfork(prepare, parent, child, nullptr);
  instant(after_atfork);
  return result;
}

namespace {

namespace dlt = dreadlocks_test;
using namespace std::chrono_literals;

// Takes and releases one lock of type Lock on `path`; true if it was held.
template <class Lock>
bool lock_once(const std::string& path) {
  const Lock lock(path.c_str());
  return lock.owns_lock();
}

// Returns the address of the futex that thread `tid` of this process waits
// on, or 0. It neither allocates nor takes a lock of the C library, which
// the fork might take.
unsigned long futex_waited_on(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/syscall",
                static_cast<int>(tid));
  char text[128] = {};
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  const ssize_t length = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (length <= 0) return 0;
  // "number address operation ...": a wait, not a wake.
  char* end = nullptr;
  if (std::strtol(text, &end, 10) != SYS_futex || *end != ' ') return 0;
  const unsigned long address = std::strtoul(end, &end, 16);
  const unsigned long command = std::strtoul(end, &end, 16) & FUTEX_CMD_MASK;
  return command == FUTEX_WAIT || command == FUTEX_WAIT_BITSET ? address : 0;
}

// The body of C for instant `n`; returns C's exit code (see above).
template <class Lock>
int fork_at_instant(int n) {
  int done_pipe[2];    // T -> main: its lock is done
  int forked_pipe[2];  // main -> R: the fork returned
  int exit_pipe[2];    // main -> T: may end now
  if (::pipe(paused_pipe) != 0 || ::pipe(go_pipe) != 0 ||
      ::pipe(done_pipe) != 0 || ::pipe(forked_pipe) != 0 ||
      ::pipe(exit_pipe) != 0) {
    return kPipe;
  }
  const std::string first = dlt::unique_path("first-use").string();
  const std::string other = dlt::unique_path("grandchild").string();
  __register_atfork(close_allocation_gate, open_allocation_gate,
                    open_allocation_gate, nullptr);
  pause_at.store(n);
  std::atomic<bool> locked{false};
  std::thread first_user([&] {
    counting = true;
    try {
      locked = lock_once<Lock>(first);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "C: first lock threw: %s\n", error.what());
    }
    counting = false;
    write_byte(done_pipe[1]);
    // T and R end only after the fork returned: ThreadSanitizer reports a
    // thread that ended unjoined before a fork as leaked, in the child.
    read_within(exit_pipe[0], 20s);
  });
  pollfd either[2] = {{paused_pipe[0], POLLIN, 0}, {done_pipe[0], POLLIN, 0}};
  int ready;
  do {
    ready = ::poll(either, 2, 20000);
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) ::_exit(kNeitherPausedNorDone);  // T cannot be joined
  if ((either[0].revents & POLLIN) == 0) {
    write_byte(exit_pipe[1]);
    first_user.join();
    return locked ? kBeyondLastInstant : kLockFailed;
  }
  const pid_t main_tid = static_cast<pid_t>(::syscall(SYS_gettid));
  bool fork_waited = false;
  std::thread releaser([&] {
    // Until the fork returned, or main is seen waiting on one futex in
    // checks over 5 ms: a fork held by the library's handlers for a mutex
    // that T holds, not a C library lock held for a moment by this thread.
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    unsigned long futex = 0;
    int seen_waiting = 0;
    bool forked = false;
    while (std::chrono::steady_clock::now() < give_up) {
      if (read_within(forked_pipe[0], 1ms)) {
        forked = true;
        break;
      }
      const unsigned long now = futex_waited_on(main_tid);
      seen_waiting = now != 0 && now == futex ? seen_waiting + 1 : 0;
      futex = now;
      if (seen_waiting == 5) {
        fork_waited = true;
        break;
      }
    }
    write_byte(go_pipe[1]);
    if (!forked) read_within(forked_pipe[0], 20s);  // see T
  });
  int code;
  {
    dlt::child_process grandchild(
        [&] {
          dlt::child_require(lock_once<Lock>(other), "grandchild locked");
          return 0;
        },
        5);
    write_byte(forked_pipe[1]);
    write_byte(exit_pipe[1]);
    const dlt::exit_status status = grandchild.wait(15s);
    code = status.ok() ? paused_kind.load() : kGrandchildFailed;
    if (!status.ok()) {
      std::fprintf(stderr, "C: forked at instant %d (%s): grandchild: %s\n", n,
                   describe(paused_kind.load()), status.describe().c_str());
    }
  }
  releaser.join();
  if (!read_within(done_pipe[0], 20s)) ::_exit(kNotDoneAfterRelease);
  first_user.join();
  if (!locked) return kLockFailed;
  return code == kGrandchildFailed || !fork_waited ? code : code + kinds;
}

// Scans every instant of the first use of Lock; see the file comment.
template <class Lock>
void scan_first_use(const char* name) {
  const dlt::watchdog dog(200s);
  int seen[kinds] = {};
  int waited = 0;  // forks seen to wait for T (a creation, a registry mutex)
  int n = 1;
  bool reached_end = false;
  for (; n < 5000; ++n) {
    dlt::child_process child([n] { return fork_at_instant<Lock>(n); }, 60);
    const dlt::exit_status status = child.wait(70s);
    if (status.exited_with(kBeyondLastInstant)) {
      reached_end = true;
      break;
    }
    if (status.ended == dlt::exit_status::how::exited && status.code >= 0 &&
        status.code < 2 * kinds) {
      ++seen[status.code % kinds];
      if (status.code >= kinds) ++waited;
      continue;
    }
    BOOST_TEST(false, name << ": fork at instant " << n
                           << " of the first use: " << status.describe());
    break;
  }
  std::printf(
      "%s: a grandchild forked at each of %d instants of the first lock (%d "
      "allocations, %d just before and %d just after pthread_atfork) "
      "locked, %d forks waited for the first user; %s\n",
      name, n - 1, seen[allocation], seen[before_atfork], seen[after_atfork],
      waited,
      reached_end ? "the first lock has no more instants"
                  : "the scan stopped at a failure");
  std::fflush(stdout);
  BOOST_TEST(reached_end, name << ": the scan reached the end of the first "
                                  "lock");
  BOOST_TEST(seen[allocation] > 0);
  // The fork handlers are registered once, during the first use.
  BOOST_TEST(seen[before_atfork] >= 1);
  BOOST_TEST(seen[after_atfork] >= 1);
}

BOOST_AUTO_TEST_CASE(fork_at_every_instant_of_the_first_path_lock) {
  scan_first_use<dreadlocks::path_lock>("path_lock");
}

BOOST_AUTO_TEST_CASE(fork_at_every_instant_of_the_first_thread_level_lock) {
  scan_first_use<dreadlocks::thread_level_path_lock>("thread_level_path_lock");
}

BOOST_AUTO_TEST_CASE(fork_at_every_instant_of_the_first_process_level_lock) {
  scan_first_use<dreadlocks::process_level_path_lock>(
      "process_level_path_lock");
}

}  // namespace
