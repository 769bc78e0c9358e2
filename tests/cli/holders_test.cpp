// tests/cli/holders_test.cpp
//
// `dreadlock --holders PATH` lists the processes that hold or wait for the
// lock with their mode, and exits 0 when a lock in the requested mode
// could be had now, else the conflict status.

#define BOOST_TEST_MODULE dreadlock holders
#include <boost/test/unit_test.hpp>
#include <sstream>

#include "tests/cli/cli_support.hpp"
#include "tests/support/nothing_left_behind.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

using namespace cli_test;

struct row {
  std::string pid, state, mode, kind, fds;
};

// Parses the table (after its header) into rows.
std::vector<row> rows_of(const std::string& table) {
  std::vector<row> rows;
  std::istringstream in(table);
  std::string line;
  std::getline(in, line);
  if (!line.empty()) BOOST_TEST(line.find("PID") == 0, line);
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    row parsed;
    fields >> parsed.pid >> parsed.state >> parsed.mode >> parsed.kind >>
        parsed.fds;
    rows.push_back(parsed);
  }
  return rows;
}

bool has_row(const std::vector<row>& rows, pid_t pid, const std::string& state,
             const std::string& mode, const std::string& kind = "ofd") {
  for (const auto& r : rows) {
    if (r.pid == std::to_string(pid) && r.state == state && r.mode == mode &&
        r.kind == kind) {
      return true;
    }
  }
  return false;
}

bool lists_pid(const std::vector<row>& rows, pid_t pid) {
  for (const auto& r : rows) {
    if (r.pid == std::to_string(pid)) return true;
  }
  return false;
}

// A dreadlock run holding `lock` until destroyed; `pid` is its command's.
struct holder {
  holder(const fs::path& lock, std::vector<std::string> options)
      : run(with(std::move(options), lock), command.descriptors()) {
    const auto line = command.next_report();
    BOOST_REQUIRE_MESSAGE(line, run.describe());
    pid = static_cast<pid_t>(std::stol(*line));
  }
  ~holder() {
    command.release();
    const auto status = run.wait();
    BOOST_TEST(status.exited_with(0), run.describe());
  }
  static std::vector<std::string> with(std::vector<std::string> options,
                                       const fs::path& lock) {
    options.insert(options.end(),
                   {lock.string(), "-c", participant::pid_script()});
    return options;
  }
  participant command;
  dreadlock_process run;
  pid_t pid = -1;
};

BOOST_AUTO_TEST_CASE(free_lock_lists_nothing_and_exits_0) {
  const fs::path lock = dreadlocks_test::unique_path("holders-free");
  auto run = run_dreadlock({"--holders", lock.string()});  // no file yet
  BOOST_TEST(run.status.exited_with(0), run.description);
  BOOST_TEST(run.out == "");
  BOOST_TEST(!fs::exists(lock), "--holders must not create the file");

  BOOST_TEST(run_dreadlock({lock.string(), "true"}).status.exited_with(0));
  run = run_dreadlock({"--holders", lock.string()});  // exists, unlocked
  BOOST_TEST(run.status.exited_with(0), run.description);
  BOOST_TEST(run.out == "");
}

BOOST_AUTO_TEST_CASE(exclusive_holder_is_listed_with_its_mode) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("holders-exclusive");
  {
    holder held(lock, {"-o"});
    const auto run = run_dreadlock({"--holders", lock.string()});
    BOOST_TEST(run.status.exited_with(conflict_exit), run.description);
    const auto rows = rows_of(run.out);
    BOOST_TEST(has_row(rows, held.run.pid(), "holds", "exclusive"), run.out);
    BOOST_TEST(!lists_pid(rows, held.pid), "-o: the command has no descriptor");
    BOOST_TEST(run.out.find("dreadlock") != std::string::npos, run.out);

    const auto coded = run_dreadlock({"-E", "7", "--holders", lock.string()});
    BOOST_TEST(coded.status.exited_with(7), coded.description);
    const auto shared = run_dreadlock({"-s", "--holders", lock.string()});
    BOOST_TEST(shared.status.exited_with(conflict_exit), shared.description);
  }
  const auto after = run_dreadlock({"--holders", lock.string()});
  BOOST_TEST(after.status.exited_with(0), after.description);
  BOOST_TEST(after.out == "");
}

BOOST_AUTO_TEST_CASE(command_holding_the_inherited_descriptor_is_listed) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("holders-inherited");
  holder held(lock, {});
  const auto run = run_dreadlock({"--holders", lock.string()});
  BOOST_TEST(run.status.exited_with(conflict_exit), run.description);
  const auto rows = rows_of(run.out);
  BOOST_TEST(has_row(rows, held.run.pid(), "holds", "exclusive"), run.out);
  BOOST_TEST(has_row(rows, held.pid, "holds", "exclusive"), run.out);
}

BOOST_AUTO_TEST_CASE(shared_holders_allow_a_shared_request) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("holders-shared");
  holder first(lock, {"-s", "-o"});
  holder second(lock, {"-s", "-o"});
  const auto run = run_dreadlock({"--holders", lock.string()});
  BOOST_TEST(run.status.exited_with(conflict_exit), run.description);
  const auto rows = rows_of(run.out);
  BOOST_TEST(has_row(rows, first.run.pid(), "holds", "shared"), run.out);
  BOOST_TEST(has_row(rows, second.run.pid(), "holds", "shared"), run.out);
  const auto shared = run_dreadlock({"--shared", "--holders", lock.string()});
  BOOST_TEST(shared.status.exited_with(0), shared.description);
}

BOOST_AUTO_TEST_CASE(waiting_process_is_listed_with_its_mode) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("holders-waiter");
  std::optional<dreadlock_process> waiter;
  {
    holder held(lock, {"-o"});
    waiter.emplace(std::vector<std::string>{"-s", lock.string(), "true"});
    BOOST_REQUIRE(eventually([&] { return kernel_waiters(lock) == 1; }));
    const auto run = run_dreadlock({"--holders", lock.string()});
    BOOST_TEST(run.status.exited_with(conflict_exit), run.description);
    const auto rows = rows_of(run.out);
    BOOST_TEST(has_row(rows, held.run.pid(), "holds", "exclusive"), run.out);
    // dreadlock waits for the kind it tries first, flock(2), holding none.
    BOOST_TEST(has_row(rows, waiter->pid(), "waits", "shared", "flock"),
               run.out);
  }
  const auto status = waiter->wait();
  BOOST_TEST(status.exited_with(0), waiter->describe());
}

// A util-linux flock(1) holder is listed with KIND flock, as lslocks shows
// it, and decides the exit status: dreadlock would meet it.
BOOST_AUTO_TEST_CASE(flock_tool_holder_is_listed_and_decides) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("holders-flock");
  participant command;
  dreadlock_process tool({"-s", lock.string(), "-c", participant::pid_script()},
                         command.descriptors(), {}, {}, flock_binary());
  BOOST_REQUIRE_MESSAGE(command.next_report(), tool.describe());
  const auto run = run_dreadlock({"--holders", lock.string()});
  BOOST_TEST(run.status.exited_with(conflict_exit), run.description);
  BOOST_TEST(has_row(rows_of(run.out), tool.pid(), "holds", "shared", "flock"),
             run.out);
  const auto shared = run_dreadlock({"-s", "--holders", lock.string()});
  BOOST_TEST(shared.status.exited_with(0), shared.description);
  command.release();
  BOOST_TEST(tool.wait().exited_with(0), tool.describe());
}

}  // namespace
