// tests/cli/mixed_company_test.cpp
//
// dreadlock, util-linux flock(1) and a C++ program using
// dreadlocks::process_level_path_lock (OFD locks) on one file: each
// excludes each other in every pair and mode, a waiting dreadlock holds
// neither kind while it waits for the other, and the descriptor form meets
// path_lock users too. Real processes; no sleeps.

#define BOOST_TEST_MODULE dreadlock mixed company
#include <boost/test/unit_test.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/cli/cli_support.hpp"
#include "tests/support/holder.hpp"
#include "tests/support/nothing_left_behind.hpp"

using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

using namespace cli_test;
using dreadlocks_test::attempt;
using program_lock = dreadlocks::process_level_path_lock;

enum class who { dreadlock, flock_tool, program };
const who everyone[] = {who::dreadlock, who::flock_tool, who::program};

std::string name_of(who w) {
  return w == who::dreadlock ? "dreadlock" : w == who::flock_tool ? "flock(1)"
                                                                  : "path_lock";
}

dreadlocks::lock_options mode(bool shared, bool blocking = true) {
  dreadlocks::lock_options options;
  options.shared = shared;
  options.blocking = blocking;
  return options;
}

// One holder of `path`, of any of the three, until destroyed.
class any_holder {
 public:
  any_holder(who w, const fs::path& path, bool shared) {
    if (w == who::program) {
      program_ = std::make_unique<
          dreadlocks_test::process_holder<program_lock>>(path, mode(shared));
      BOOST_REQUIRE(program_->wait_settled() == attempt::granted);
      return;
    }
    std::vector<std::string> args;
    if (shared) args.push_back("-s");
    args.insert(args.end(),
                {path.string(), "-c", participant::script("h", log_)});
    tool_.emplace(args, command_.descriptors(), fs::path(), fs::path(),
                  w == who::flock_tool ? flock_binary() : fs::path());
    BOOST_REQUIRE_MESSAGE(command_.wait_ready(), tool_->describe());
  }
  ~any_holder() {
    if (tool_) {
      command_.release();
      BOOST_TEST(tool_->wait().exited_with(0), tool_->describe());
    }
  }

 private:
  fs::path log_ = dreadlocks_test::unique_path("holder-log");
  participant command_;
  std::optional<dreadlock_process> tool_;
  std::unique_ptr<dreadlocks_test::process_holder<program_lock>> program_;
};

// True if `w` gets `path` in the mode at once (and lets it go).
bool granted_now(who w, const fs::path& path, bool shared) {
  if (w == who::program) {
    try {
      program_lock lock(path, mode(shared, false));
      return true;
    } catch (const dreadlocks::acquiring_process_level_lock_would_block_error&) {
      return false;
    }
  }
  std::vector<std::string> args{"-n"};
  if (shared) args.push_back("-s");
  args.insert(args.end(), {path.string(), "true"});
  const auto run = w == who::flock_tool ? run_flock(args) : run_dreadlock(args);
  BOOST_TEST((run.status.exited_with(0) ||
              run.status.exited_with(conflict_exit)),
             run.description);
  return run.status.exited_with(0);
}

// The pairs that must see each other: dreadlock with everyone, and each
// of the others with itself (flock(1) and path_lock use kinds the kernel
// keeps apart; dreadlock takes both).
bool meet(who a, who b) { return a == who::dreadlock || b == who::dreadlock || a == b; }

BOOST_AUTO_TEST_CASE(every_pair_and_mode_excludes_as_the_modes_say) {
  dreadlocks_test::watchdog dog(120s);
  for (who holding : everyone) {
    for (bool held_shared : {false, true}) {
      const fs::path path = dreadlocks_test::unique_path("mixed");
      any_holder held(holding, path, held_shared);
      for (who asking : everyone) {
        if (!meet(holding, asking)) continue;
        for (bool shared : {false, true}) {
          BOOST_TEST_CONTEXT(name_of(holding)
                             << (held_shared ? " -s" : " -x") << " holds, "
                             << name_of(asking) << (shared ? " -s" : " -x")
                             << " asks") {
            BOOST_TEST(granted_now(asking, path, shared) ==
                       (held_shared && shared));
          }
        }
      }
    }
  }
}

// A dreadlock waiting for flock(1) and path_lock at once holds neither
// while it waits: once flock(1) is gone, flock(1) gets in again although
// dreadlock now waits for the program; the program's release lets
// dreadlock in, and then it excludes both.
BOOST_AUTO_TEST_CASE(waiting_dreadlock_holds_nothing_while_it_waits) {
  dreadlocks_test::watchdog dog(60s);
  const fs::path path = dreadlocks_test::unique_path("waiter");
  auto program = std::make_unique<any_holder>(who::program, path, false);
  std::optional<any_holder> tool(std::in_place, who::flock_tool, path, false);
  participant waiter;
  dreadlock_process waiting(
      {path.string(), "-c", participant::script("w", path.string() + ".log")},
      waiter.descriptors());
  BOOST_REQUIRE(eventually([&] { return kernel_waiters(path) == 1; }));
  tool.reset();
  // dreadlock got flock(2), was refused the OFD lock, let flock(2) go and
  // waits for the OFD lock alone: flock(1) gets in.
  BOOST_TEST(eventually([&] { return granted_now(who::flock_tool, path, false); }));
  BOOST_TEST(!waiter.reported());
  program.reset();
  BOOST_REQUIRE_MESSAGE(waiter.wait_ready(), waiting.describe());
  BOOST_TEST(!granted_now(who::flock_tool, path, true));
  BOOST_TEST(!granted_now(who::program, path, true));
  waiter.release();
  BOOST_TEST(waiting.wait().exited_with(0), waiting.describe());
}

// The descriptor form meets path_lock both ways.
BOOST_AUTO_TEST_CASE(descriptor_form_meets_path_lock_users) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path path = dreadlocks_test::unique_path("fd-mixed");
  const std::string idiom = "( " + quoted(dreadlock_binary().string()) +
                            " -n 9 || exit 1; echo ready >&5; read line <&6 ) "
                            "9>>" + quoted(path.string()) +
                            "; echo \"status $?\"";
  {
    any_holder program(who::program, path, true);
    participant body;
    dreadlock_process refused({"-c", idiom}, body.descriptors(), {}, {},
                              "/bin/sh");
    BOOST_TEST(refused.wait().exited_with(0), refused.describe());
    BOOST_TEST(refused.out() == "status 1\n", refused.describe());
  }
  participant body;
  dreadlock_process held({"-c", idiom}, body.descriptors(), {}, {}, "/bin/sh");
  BOOST_REQUIRE_MESSAGE(body.wait_ready(), held.describe());
  BOOST_TEST(!granted_now(who::program, path, true));
  body.release();
  BOOST_TEST(held.wait().exited_with(0), held.describe());
  BOOST_TEST(granted_now(who::program, path, false));
}

}  // namespace
