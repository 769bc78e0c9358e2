// tests/cli/proc_parse_test.cpp
//
// Parsing what Linux's /proc says about locks and blocked system calls,
// and the --holders table, as functions on sample text.

#define BOOST_TEST_MODULE dreadlock proc parsing
#include <boost/test/unit_test.hpp>
#include <string>

#include "tests/support/nothing_left_behind.hpp"
#include "tools/dreadlock/holders_command.hpp"
#include "tools/dreadlock/lock_wait_probe.hpp"
#include "tools/dreadlock/proc_lock_line.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

using namespace dreadlock_cli;

BOOST_AUTO_TEST_CASE(fdinfo_ofd_lock_line) {
  const auto lock = parse_proc_lock_line(
      "lock:\t1: OFDLCK ADVISORY  WRITE -1 fe:00:10954117 0 EOF");
  BOOST_REQUIRE(lock.has_value());
  BOOST_TEST((lock->family == lock_family::ofd));
  BOOST_TEST(lock->exclusive);
  BOOST_TEST(!lock->waiting);
  BOOST_TEST(lock->pid == -1);
  BOOST_TEST(lock->device == "fe:00");
  BOOST_TEST(lock->inode == 10954117u);
  BOOST_TEST(lock->start == "0");
  BOOST_TEST(lock->end == "EOF");
}

BOOST_AUTO_TEST_CASE(proc_locks_lines) {
  const auto posix =
      parse_proc_lock_line("2: POSIX  ADVISORY  READ 4321 08:01:123 0 99");
  BOOST_REQUIRE(posix.has_value());
  BOOST_TEST((posix->family == lock_family::posix));
  BOOST_TEST(!posix->exclusive);
  BOOST_TEST(posix->pid == 4321);
  BOOST_TEST(posix->end == "99");

  const auto flock = parse_proc_lock_line(
      "1: FLOCK  ADVISORY  READ 23746 fe:00:10954117 0 EOF");
  BOOST_REQUIRE(flock.has_value());
  BOOST_TEST((flock->family == lock_family::flock));

  for (const char* waiter :
       {"3: -> OFDLCK ADVISORY  READ -1 fe:00:10954117 0 EOF",
        "3:  -> OFDLCK ADVISORY  WRITE -1 fe:00:10954117 0 EOF"}) {
    const auto lock = parse_proc_lock_line(waiter);
    BOOST_REQUIRE(lock.has_value());
    BOOST_TEST(lock->waiting);
    BOOST_TEST(lock->inode == 10954117u);
  }
  BOOST_TEST(parse_proc_lock_line("4: POSIX  MANDATORY WRITE 7 08:01:5 0 EOF")
                 .has_value());
}

BOOST_AUTO_TEST_CASE(unrecognised_lines) {
  for (const char* line :
       {"", "pos:\t0", "flags:\t0100002",
        "1: LEASE  ACTIVE    READ 1 08:01:5 0 EOF",
        "1: DELEG  ACTIVE    READ 1 08:01:5 0 EOF", "1: OFDLCK ADVISORY WRITE",
        "1: OFDLCK ADVISORY WRITE x 08:01:5 0 EOF",
        "1: OFDLCK ADVISORY WRITE -1 0801 0 EOF"}) {
    BOOST_TEST(!parse_proc_lock_line(line).has_value(), line);
  }
}

BOOST_AUTO_TEST_CASE(syscall_lines) {
  const auto call = parse_syscall_line(
      "72 0x3 0x26 0x7ffe73af71a0 0x0 0x0 0x0 0x7ffe73af7110 0x7fd8be916810\n");
  BOOST_REQUIRE(call.has_value());
  BOOST_TEST(call->number == 72);
  BOOST_TEST(call->args[0] == 3u);
  BOOST_TEST(call->args[1] == 0x26u);
  BOOST_TEST(call->args[2] == 0x7ffe73af71a0u);
  BOOST_TEST(!parse_syscall_line("running\n").has_value());
  BOOST_TEST(
      !parse_syscall_line("-1 0x7ffe73af7110 0x7fd8be916810\n").has_value());
  BOOST_TEST(!parse_syscall_line("72 0x3\n").has_value());
}

BOOST_AUTO_TEST_CASE(holders_table) {
  BOOST_TEST(format_holders({}) == "");
  holders_report report;
  holder held;
  held.pid = 42;
  held.state = holder_state::holds;
  held.family = lock_family::ofd;
  held.exclusive = true;
  held.descriptors = {3, 4};
  held.command = "dreadlock /tmp/demo.lock sleep 9";
  holder waiting;
  waiting.pid = 43;
  waiting.state = holder_state::waits;
  waiting.family = lock_family::ofd;
  waiting.descriptors = {3};
  waiting.command = "dreadlock -s /tmp/demo.lock true";
  holder open;
  open.pid = 44;
  open.state = holder_state::open;
  open.command = "x";
  report.holders = {held, waiting, open};
  BOOST_TEST(format_holders(report) ==
             "PID     STATE  MODE       KIND   FD    COMMAND\n"
             "42      holds  exclusive  ofd    3,4   dreadlock /tmp/demo.lock "
             "sleep 9\n"
             "43      waits  ?          ofd    3     dreadlock -s "
             "/tmp/demo.lock true\n"
             "44      open   -          -      -     x\n");
}

}  // namespace
