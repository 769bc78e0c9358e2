// dreadlocks/idle_lock_files.hpp
//
// The lock files a process keeps open between locks, and the call that
// closes them.
//
// Where the primitive allows it (the OFD and flock(2) primitives; not
// classic fcntl locks, whose close would release the process's other locks
// on the file, nor Windows, where an open handle keeps a deleted file's
// name), the last release of a lock file leaves its descriptor open,
// unlocked, so that the next lock through the same path skips open(2) and
// close(2): it stat(2)s the path instead, and reuses the descriptor only if
// the path still names the file the descriptor has open. A lock file
// deleted or replaced meanwhile is never locked through the old
// descriptor; it is closed and the path opened anew. At most the 8 files
// released last keep a descriptor; a request that fails keeps none; a
// forked child closes its copies. On NFS, identity is what the client's
// attribute cache says (docs/process-level.md).
//
// An open descriptor keeps its file system busy: umount(8) refuses it with
// EBUSY. A program that unmounts the file system its lock files live on,
// or that wants no descriptor left open between locks, calls
// close_idle_lock_files() first.

#ifndef DREADLOCKS_IDLE_LOCK_FILES_HPP_
#define DREADLOCKS_IDLE_LOCK_FILES_HPP_

#include <cstddef>

#include "dreadlocks/detail/process_registry.hpp"
#include "dreadlocks/platform.hpp"

namespace dreadlocks {

// close_idle_lock_files()
//
// Closes the descriptors (handles) this process keeps open, unlocked, for
// the next lock on their files, in the registry of Primitive's files (the
// one every primitive shipped for the platform shares; a primitive with
// other handle types names itself). Locks held, and files a lock object
// keeps open (basic_path_mutex), are untouched; the next lock on a closed
// file opens it again.
// Returns how many it closed. Never throws (beyond std::system_error from
// std::mutex).
template <class Primitive = default_process_lock::primitive>
std::size_t close_idle_lock_files() {
  return detail::process_registry_for<Primitive>::instance().close_idle();
}

}  // namespace dreadlocks

#endif  // DREADLOCKS_IDLE_LOCK_FILES_HPP_
