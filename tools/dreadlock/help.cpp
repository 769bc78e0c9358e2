// tools/dreadlock/help.cpp

#include "tools/dreadlock/help.hpp"

namespace dreadlock_cli {

std::string_view help_text() noexcept {
  return R"(Usage:
 dreadlock [options] PATH COMMAND [ARGS...]
 dreadlock [options] PATH -c 'SHELL COMMAND'
 dreadlock [options] --holders PATH

Runs COMMAND while holding a lock on the file PATH (created if missing),
excluding other processes that lock PATH with dreadlock or fcntl locks.
Options stop at PATH, as with flock(1).

Options:
 -s, --shared                  get a shared lock
 -x, -e, --exclusive           get an exclusive lock (default)
 -n, --nonblock                fail rather than wait
 -w, --timeout SECONDS         wait at most SECONDS (fractions allowed;
                                 -w 0 is -n)
 -E, --conflict-exit-code N    exit status when -n or -w gives up (default 1)
 -o, --close                   do not pass the lock descriptor to COMMAND:
                                 the lock ends when COMMAND ends, even if
                                 COMMAND leaves background processes
 -c, --command STRING          (after PATH) run STRING with /bin/sh -c
     --verbose                 say how long getting the lock took
     --holders                 list the processes that hold or wait for the
                                 lock on PATH; exit 0 if it could be had now
                                 in the requested mode, else the conflict
                                 status
 -h, --help                    display this help
 -V, --version                 display the version

Exit status: COMMAND's status; 128+N if COMMAND died of signal N; the
conflict status (1, or -E N) if the lock was held; 64 usage error; 66 lock
file cannot be opened; 73 lock file cannot be created; 71 other OS error;
126 COMMAND cannot be executed; 127 COMMAND not found.

SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to dreadlock are
passed on to COMMAND.
)";
}

}  // namespace dreadlock_cli
