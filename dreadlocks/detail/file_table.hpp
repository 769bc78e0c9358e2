// dreadlocks/detail/file_table.hpp
//
// Which open file a spelling names, and who uses it: the process
// registry's table of files (detail/file_state.hpp has their states).
// Guarded by the registry's mutex; it never waits.
//
// It never opens a second handle to a file it holds (the POSIX "close
// releases every lock of the process" trap): a spelling seen before maps to
// its file directly, a new one is identified before it is opened while any
// file is held. While none is, there is nothing a second handle could be a
// second one of: the file is opened straight away and identified only once
// another file has to be compared with it.
//
// A file closed with its last user keeps, for a while (the kIdleFiles most
// recent), its state and the spelling that opened it, so that opening it
// again through that spelling allocates nothing, and through the very key
// that opened it (a thread's recent keys hand it out again) skips the
// spelling index too. If its primitive allows (idle_handles_reusable:
// closing a handle releases nothing but its own locks) and its last user
// released a hold, its handle stays open too, unlocked: the spelling then
// reuses it if the spelling still names the file the handle has open
// (identify() of the spelling against the handle's identity, read once),
// and a file deleted or replaced since is closed and opened anew. Idle
// handles are not in the table of open files: one may name a file that
// another spelling opened since, which locate() finds by identity before
// it reuses the handle, and closing it then releases nothing.
//
// Allocates first, changes after: everything the table may need to record
// a file (a file state, index nodes and buckets, a slot for a raced handle)
// is allocated before its first change and before a handle is opened, so
// that std::bad_alloc comes only while there is nothing to undo.

#ifndef DREADLOCKS_DETAIL_FILE_TABLE_HPP_
#define DREADLOCKS_DETAIL_FILE_TABLE_HPP_

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "dreadlocks/detail/attributes.hpp"
#include "dreadlocks/detail/file_fast_mode.hpp"
#include "dreadlocks/detail/file_list.hpp"
#include "dreadlocks/detail/file_state.hpp"
#include "dreadlocks/detail/map_room.hpp"
#include "dreadlocks/detail/spelling_index.hpp"
#include "dreadlocks/lock_primitive.hpp"
#include "dreadlocks/lock_request.hpp"

namespace dreadlocks::detail {

template <class Handle, class Id, class IdHash>
class file_table {
 public:
  using file = file_state<Handle, Id>;

  // Files get their condition variable from `conditions`, in turn.
  file_table(std::condition_variable* conditions, std::size_t count) noexcept
      : conditions_(conditions), condition_count_(count) {
    // Reserved so that keeping a spare never allocates in a noexcept path.
    spare_files_.reserve(kSpares);
    spare_file_nodes_.reserve(kSpares);
  }

  // locate()
  //
  // Returns the file the request's key names, opening it with primitive P
  // if this process does not hold it open, counted with one user more and
  // out of the fast mode. Throws std::system_error naming the path for a
  // file that cannot be opened or identified, or std::bad_alloc, having
  // changed nothing.
  //
  // Inlined into the registry's section for the cases of a cycle, a file
  // in use or an idle one whose kept handle still is the file (the stat(2)
  // is then made one call less deep: docs/performance.md, "Call depth at
  // the system calls"); open_or_wake() does the rest.
  template <class P>
  DREADLOCKS_INLINE_STEP file& locate(const lock_request& request) {
    const lock_key& spelling = request.key;
    // A closed file that this spelling opened last: reopened below, in its
    // old state, unless the spelling now names a file we hold.
    file* idle = nullptr;
    if (file* known = spellings_.find(spelling)) {
      if (!known->idle) {
        file_fast_mode::make_slow(*known);
        ++known->users;
        return *known;
      }
      idle = known;
    }
    if (idle != nullptr && idle->handle != idle->ops->invalid_handle) {
      const primitive_ops<Handle>* ops = primitive_ops_of<P>.usable();
      if (still_names<P>(*idle, spelling, ops)) {
        return reuse<P>(*idle, spelling, open_files() != 0);
      }
      close_handle(*idle);  // deleted, replaced, or another primitive's
    }
    return open_or_wake<P>(request, idle);
  }

  // close()
  //
  // Closes a file whose last user and keeper left (its OS lock already
  // cleared) and lays its state to rest for its opening spelling to find
  // again. With `keep_handle` (the last user released a hold), the handle
  // stays open for reuse if the file's primitive allows it.
  void close(file& closing, bool keep_handle) noexcept {
    if (!keep_handle || !closing.ops->idle_handles_reusable ||
        closing.spellings.empty()) {
      close_handle(closing);
    }
    if (!raced_.empty()) close_raced(closing);
    // Only the spelling that opened the file may lead to it once closed:
    // the others were checked against it only while it was held.
    while (closing.spellings.size() > 1) {
      spellings_.drop(closing.spellings.back());
      closing.spellings.pop_back();
    }
    std::unique_ptr<file> owned;
    if (closing.identified) {
      typename file_map::node_type node = files_.extract(closing.id);
      owned = std::move(node.mapped());
      if (spare_file_nodes_.size() < kSpares) {
        spare_file_nodes_.push_back(std::move(node));  // reserved
      }
    } else {
      owned = std::move(unidentified_);
    }
    rest(std::move(owned));
  }

  // orphan_all()
  //
  // In a forked child: closes the child's copies of every handle (which
  // leaves the parent's locks alone), forgets the idle files and the
  // spellings, and keeps each open file as an orphan that its inherited
  // users release into without touching the OS. Allocates nothing.
  void orphan_all() noexcept {
    const auto orphan = [&](std::unique_ptr<file>& open) {
      file_fast_mode::make_slow(*open);  // orphans release under the mutex
      open->ops->close(open->handle);
      open->handle = open->ops->invalid_handle;
      for (const lock_key& spelling : open->spellings) {
        spellings_.forget_opener(spelling);
      }
      open->spellings.clear();
      open->orphaned = true;
      // Kept on a list threaded through the idle list's links, which an
      // open file does not use (detail/file_list.hpp).
      orphans_.push_newest(*open.release());
    };
    while (idle_.oldest() != nullptr) forget_idle(*idle_.oldest());
    for (const raced_handle& raced : raced_) {
      raced.target->ops->close(raced.handle);
    }
    raced_.clear();
    for (auto& [id, open] : files_) orphan(open);
    if (unidentified_ != nullptr) orphan(unidentified_);
    files_.clear();
    spellings_.clear();
  }

  // forget_orphan()
  //
  // Drops one user of an orphan; frees it with the last user or keeper.
  void forget_orphan(file& orphan) noexcept {
    --orphan.users;
    free_unused_orphan(orphan);
  }

  // free_unused_orphan()
  //
  // Frees an orphan that has no user and no keeper left.
  void free_unused_orphan(file& orphan) noexcept {
    if (orphan.users != 0 || orphan.keepers != 0) return;
    orphans_.unlink(orphan);
    delete &orphan;
  }

  // trim()
  //
  // Forgets the idle files and frees the spares.
  void trim() noexcept {
    while (idle_.oldest() != nullptr) forget_idle(*idle_.oldest());
    spare_files_.clear();
    spare_file_nodes_.clear();
    // The fewest buckets for what is left: a table that once held many
    // files would otherwise shrink on its next insertion (libstdc++).
    files_.rehash(0);
    spellings_.trim();
  }

  // open_files()
  //
  // Returns the number of files open (with users or keepers).
  std::size_t open_files() const noexcept {
    return files_.size() + (unidentified_ != nullptr ? 1 : 0);
  }

  // close_idle()
  //
  // Closes the handles kept open by idle files (their states stay, to be
  // opened anew) and returns how many it closed.
  std::size_t close_idle() noexcept {
    std::size_t closed = 0;
    for (file* idle = idle_.oldest(); idle != nullptr; idle = idle->newer) {
      if (idle->handle != idle->ops->invalid_handle) ++closed;
      close_handle(*idle);
    }
    return closed;
  }

  // idle_handles()
  //
  // Returns the number of handles kept open by idle files.
  std::size_t idle_handles() const noexcept {
    std::size_t kept = 0;
    for (file* idle = idle_.oldest(); idle != nullptr; idle = idle->newer) {
      if (idle->handle != idle->ops->invalid_handle) ++kept;
    }
    return kept;
  }

 private:
  // locate()'s other cases: opens the file, or wakes `idle` (the closed
  // state of the request's spelling, its handle closed) by opening it
  // again, unless the spelling now names a file we hold.
  template <class P>
  file& open_or_wake(const lock_request& request, file* idle) {
    const lock_key& spelling = request.key;
    // Only a file this process holds open could be opened a second time.
    const bool holding = open_files() != 0;
    const primitive_ops<Handle>* ops = primitive_ops_of<P>.usable();
    // A cycle on one path wakes its idle state and needs nothing new.
    if (idle == nullptr || holding) {
      reserve_for_new_file(spelling, holding, idle == nullptr);
    }
    Id id{};
    if (holding) {
      identify_unidentified<P>();
      if (P::identify(spelling, id)) {
        if (auto held = files_.find(id); held != files_.end()) {
          if (idle != nullptr) forget_idle(*idle);
          return adopt_spelling(*held->second, spelling);
        }
      }
    }
    open_failure failure;
    const Handle opened = P::open(spelling, failure);
    if (opened == P::invalid_handle) {
      throw std::system_error(
          failure.error.code(), std::string(request.operation) +
                             ": cannot open lock file \"" + spelling.path().string() +
                             "\"" +
                             (failure.note != nullptr
                                  ? std::string(" (") + failure.note + ")"
                                  : std::string()));
    }
    if (holding) {
      os_error error;
      if (!P::identify(opened, id, error)) {
        ops->close(opened);
        throw std::system_error(error.code(), std::string(request.operation) +
                                           ": cannot stat lock file \"" +
                                           spelling.path().string() + "\"");
      }
      if (auto held = files_.find(id); held != files_.end()) {
        // The path was renamed onto a file we hold after we looked, or it
        // could not be identified before it was opened. Closing `opened`
        // would release the file's lock if closing any handle does.
        file& same = *held->second;
        if (same.ops->closing_any_releases) {
          raced_.push_back({&same, opened});  // reserved: cannot throw
        } else {
          ops->close(opened);
        }
        if (idle != nullptr) forget_idle(*idle);
        return adopt_spelling(same, spelling);
      }
    }
    // Nothing below allocates: the state, its spelling's room and the
    // index's node and buckets were made by reserve_for_new_file().
    std::unique_ptr<file> made =
        idle != nullptr ? wake(*idle) : take_spare(spare_files_);
    made->id = id;
    made->identified = holding;
    made->id_known = holding;
    made->handle = opened;
    made->ops = ops;
    file& state = *made;
    if (holding) {
      insert_file(id, std::move(made));
    } else {
      unidentified_ = std::move(made);
    }
    if (idle != nullptr) {
      ++state.users;  // its spelling still leads here
      return state;
    }
    return adopt_spelling(state, spelling);
  }

  using file_map = std::unordered_map<Id, std::unique_ptr<file>, IdHash>;

  // Makes what locate() may need to record a file it has not seen, so that
  // nothing it does after opening the file can fail: unless an idle state
  // is woken, a spare file state with room for one spelling and a spelling
  // node with room for it in the index; while other files are held, two
  // file nodes and the buckets for them (the file opened alone, identified
  // now, and the new one) and a slot for a raced handle. What is not used
  // is kept as a spare. Throws std::bad_alloc, having changed nothing but
  // the spares.
  void reserve_for_new_file(const lock_key& spelling, bool holding,
                            bool needs_state) {
    // A woken idle state keeps its spelling; one that turns out to name a
    // held file goes through adopt_spelling(), which allocates first too.
    if (needs_state) {
      if (spare_files_.empty()) {
        auto made = std::make_unique<file>();
        made->changed = &conditions_[next_condition_++ % condition_count_];
        made->spellings.reserve(1);
        spare_files_.push_back(std::move(made));  // reserved: cannot throw
      }
      spellings_.reserve(spelling);
    }
    if (holding) {
      make_room(files_, 2);
      while (spare_file_nodes_.size() < 2) {
        file_map scratch;
        scratch.emplace(Id{}, nullptr);
        spare_file_nodes_.push_back(scratch.extract(scratch.begin()));
      }
      raced_.reserve(raced_.size() + 1);
    }
  }

  // Records an open file under its identity in a node and buckets made
  // beforehand (reserve_for_new_file()).
  void insert_file(const Id& id, std::unique_ptr<file> open) noexcept {
    assert(!spare_file_nodes_.empty());
    typename file_map::node_type node = take_spare(spare_file_nodes_);
    node.key() = id;
    node.mapped() = std::move(open);
    files_.insert(std::move(node));  // buckets reserved: no rehash
  }

  // Takes the last of `spares`, which must not be empty.
  template <class Spare>
  static Spare take_spare(std::vector<Spare>& spares) noexcept {
    Spare spare = std::move(spares.back());
    spares.pop_back();
    return spare;
  }

  // True when the handle idle file `idle` kept open may serve a request of
  // primitive P for `spelling`: the request would open the file with the
  // same primitive (`ops`), and the spelling names the file the handle has
  // open now. While the handle is open its file's identity cannot pass to
  // another file, so on a local file system equal identities are the same
  // file (docs/process-level.md says what holds on NFS). Reads the
  // handle's identity the first time.
  template <class P>
  DREADLOCKS_INLINE_STEP static bool still_names(
      file& idle, const lock_key& spelling,
      const primitive_ops<Handle>* ops) noexcept {
    if (idle.ops != ops) return false;
    if (!idle.id_known) {
      os_error ignored;
      if (!P::identify(idle.handle, idle.id, ignored)) return false;
      idle.id_known = true;
    }
    Id named{};
    return P::identify(spelling, named) && named == idle.id;
  }

  // Reopens idle file `idle` through the handle it kept, for `spelling`,
  // counted with one user; if another spelling opened the same file since
  // (only while `holding`), closes the kept handle and returns that file.
  // Throws std::bad_alloc, having changed nothing, only while `holding`.
  template <class P>
  file& reuse(file& idle, const lock_key& spelling, bool holding) {
    if (!holding) {
      unidentified_ = wake(idle);
      ++idle.users;
      return idle;
    }
    reserve_for_new_file(spelling, true, false);
    identify_unidentified<P>();
    if (auto held = files_.find(idle.id); held != files_.end()) {
      // Unlocked, and its primitive's close releases no other handle's lock.
      forget_idle(idle);
      return adopt_spelling(*held->second, spelling);
    }
    std::unique_ptr<file> woken = wake(idle);
    woken->identified = true;
    insert_file(idle.id, std::move(woken));
    ++idle.users;
    return idle;
  }

  // Closes `closing`'s handle, if it has one open, and forgets the
  // identity read through it.
  static void close_handle(file& closing) noexcept {
    if (closing.handle != closing.ops->invalid_handle) {
      closing.ops->close(closing.handle);
      closing.handle = closing.ops->invalid_handle;
    }
    closing.id_known = false;
  }

  // Gives the file opened while nothing else was held its identity, so
  // that a new spelling can be compared with it. If that fails (only if
  // the user closed native_handle()), it stays unidentified. Needs what
  // reserve_for_new_file() makes for a process that holds a file.
  template <class P>
  void identify_unidentified() noexcept {
    if (unidentified_ == nullptr) return;
    if (!unidentified_->id_known) {
      os_error ignored;
      if (!P::identify(unidentified_->handle, unidentified_->id, ignored)) {
        return;
      }
      unidentified_->id_known = true;
    }
    unidentified_->identified = true;
    const Id id = unidentified_->id;
    insert_file(id, std::move(unidentified_));
  }

  // Makes `spelling` lead to `target` and counts it as a user of the file.
  // Allocates first (room in the file's spellings and in the index, a
  // node when no spare is left), changes after. Throws std::bad_alloc,
  // having changed nothing.
  file& adopt_spelling(file& target, const lock_key& spelling) {
    target.spellings.reserve(target.spellings.size() + 1);
    spellings_.reserve(spelling);
    file_fast_mode::make_slow(target);
    ++target.users;
    spellings_.insert(spelling, &target, target.spellings.empty());
    target.spellings.push_back(spelling);  // reserved: cannot throw
    return target;
  }

  // Closes the handles raced onto `closing` (see raced_), as it closes.
  void close_raced(const file& closing) noexcept {
    for (std::size_t i = 0; i < raced_.size();) {
      if (raced_[i].target == &closing) {
        closing.ops->close(raced_[i].handle);
        raced_[i] = raced_.back();
        raced_.pop_back();
      } else {
        ++i;
      }
    }
  }

  // Lays a closed file state (no user, one spelling) to rest at the head of
  // the idle list, so that its spelling reopens it without allocating or
  // touching the index; forgets the oldest idle one beyond kIdleFiles.
  void rest(std::unique_ptr<file> owned) noexcept {
    file& closed = *owned;
    // Back to the initial state (but for a handle kept open, close());
    // owners, holds and waiters already are.
    closed.identified = false;
    closed.os_lock = primitive_mode::none;
    closed.in_transition = false;
    closed.changed_in_transition = false;
    if (closed.spellings.empty()) {
      // Never reached by a spelling (adopt_spelling() failed): a spare.
      if (spare_files_.size() < kSpares) {
        spare_files_.push_back(std::move(owned));  // reserved
      }
      return;
    }
    owned.release();  // owned by the idle list until wake()
    closed.idle = true;
    idle_.push_newest(closed);
    if (idle_.size() > kIdleFiles) forget_idle(*idle_.oldest());
  }

  // Takes a file state out of the idle list and returns it, owned.
  std::unique_ptr<file> wake(file& idle) noexcept {
    idle_.unlink(idle);
    idle.idle = false;
    return std::unique_ptr<file>(&idle);
  }

  // Forgets an idle file state and its spelling, closing a handle it kept;
  // keeps both as spares.
  void forget_idle(file& idle) noexcept {
    close_handle(idle);
    std::unique_ptr<file> owned = wake(idle);
    for (const lock_key& spelling : idle.spellings) spellings_.drop(spelling);
    idle.spellings.clear();
    if (spare_files_.size() < kSpares) {
      spare_files_.push_back(std::move(owned));  // reserved
    }
  }

  // How many closed files are kept, with their spelling, for reopening;
  // and how many spare file states and spelling entries beyond those.
  static constexpr std::size_t kIdleFiles = 8;
  static constexpr std::size_t kSpares = 8;

  std::condition_variable* conditions_;
  std::size_t condition_count_;
  std::size_t next_condition_ = 0;
  // The open files: identified ones by identity, and at most one opened
  // while no other file was (see locate()).
  file_map files_;
  std::unique_ptr<file> unidentified_;
  spelling_index<file> spellings_{kSpares};
  file_list<file> idle_;
  std::vector<std::unique_ptr<file>> spare_files_;
  std::vector<typename file_map::node_type> spare_file_nodes_;
  // Handles opened to a held file by a spelling renamed onto it while it
  // was looked up (see locate()), when closing one would release the
  // file's lock: they stay open until the file is closed. Rare; kept here
  // rather than per file so that locate() can make room for one before it
  // opens anything.
  struct raced_handle {
    file* target;
    Handle handle;
  };
  std::vector<raced_handle> raced_;
  // The files inherited through fork() that guards still hold (see
  // orphan_all()), linked through `newer` and `older`.
  file_list<file> orphans_;
};

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_FILE_TABLE_HPP_
