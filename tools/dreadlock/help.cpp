// tools/dreadlock/help.cpp

#include "tools/dreadlock/help.hpp"

namespace dreadlock_cli {

std::string_view help_text() noexcept {
  return R"(Usage:
 dreadlock [options] PATH COMMAND [ARGS...]
 dreadlock [options] PATH -c 'SHELL COMMAND'
 dreadlock [options] NUMBER
 dreadlock [options] --fd NUMBER COMMAND [ARGS...]
 dreadlock [options] --holders PATH

Runs COMMAND while holding a lock on the file or directory PATH (a file is
created if missing), or locks the inherited descriptor NUMBER and exits,
leaving the lock with it: ( dreadlock -n 9 || exit 1; ... ) 9>PATH.
The lock is a flock(2) lock AND an fcntl (OFD) lock, so it excludes both
util-linux flock(1) and dreadlocks::path_lock users. Options stop at PATH.

Options:
 -s, --shared                  get a shared lock
 -x, -e, --exclusive           get an exclusive lock (default)
 -u, --unlock                  remove the lock (of NUMBER)
 -n, --nb, --nonblock          fail rather than wait
 -w, --timeout SECONDS         wait at most SECONDS (fractions allowed;
                                 -w 0 is -n)
 -E, --conflict-exit-code N    exit status when -n or -w gives up (default 1)
 -o, --close                   do not pass the lock descriptor to COMMAND:
                                 the lock ends when COMMAND ends, even if
                                 COMMAND leaves background processes
 -F, --no-fork                 run COMMAND in dreadlock's process (not with -o)
 -c, --command STRING          (after PATH) run STRING with $SHELL -c
                                 (/bin/sh without SHELL)
     --fcntl                   take the fcntl (OFD) lock only, as flock(1)
                                 --fcntl does
     --start OFFSET            with --fcntl: lock from byte OFFSET (default 0)
     --length BYTES            with --fcntl: lock BYTES bytes (0: to the end)
     --fd NUMBER               lock the inherited descriptor NUMBER and run
                                 COMMAND under it
     --verbose                 say how long getting the lock took, as flock(1)
     --holders                 list the processes that hold or wait for the
                                 lock on PATH; exit 0 if it could be had now
                                 in the requested mode, else the conflict
                                 status
 -h, --help                    display this help
 -V, --version                 display the version

Exit status: COMMAND's status (0 for NUMBER); 128+N if COMMAND died of
signal N; the conflict status (1, or -E N) if the lock was held; 64 usage
error; 65 NUMBER is not an open descriptor; 66 lock file cannot be opened;
73 lock file cannot be created; 71 other OS error; 126 COMMAND cannot be
executed; 127 COMMAND not found.

SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to dreadlock are
passed on to COMMAND.
)";
}

}  // namespace dreadlock_cli
