// dreadlocks/detail/process_registry.hpp
//
// The per-process registry behind every file-backed process policy: one
// descriptor per lock file, identified by (device, inode), opened when the
// first lock on the file is taken and closed when the last is released, and
// per file the holds per thread and mode and the OS lock they add up to.
//
// Two rules keep it from deadlocking or releasing by accident:
// - No internal mutex is held while a thread waits for another process. A
//   thread that must wait for the OS marks the file "in transition", waits
//   in the kernel without the mutex, and other threads that need the OS
//   lock to change wait (in-process) for the transition to end.
// - A release never waits: dropping or downgrading the OS lock never
//   blocks, so it is done at once under the mutex, even while a transition
//   is in flight; the transition then re-checks what it was granted.
// And it never opens a second descriptor to a file it holds (the POSIX
// "close releases every lock of the process" trap): a path spelling seen
// before maps to its file directly, a new one is stat'ed before it is
// opened while any file is held. While none is, there is nothing a second
// descriptor could be a second one of: the file is opened straight away and
// identified (fstat) only once another file has to be compared with it.
// A file closed with its last release keeps, for a while (the kIdleFiles
// most recent), its state and the spelling that opened it, so that opening
// it again through that spelling allocates nothing, and through the very key
// that opened it (a thread's recent keys hand it out again) skips the
// spelling index too; what it does on the file system is what a new
// spelling gets.
//
// A nested acquisition or release that changes nothing the kernel holds
// takes a fast mode (detail/hold_word.hpp): while one thread alone holds a
// file, more than once, its holds are in an atomic word kept in the block
// of the key that opened the file (key_access::hold_word()), and a
// repeat of a mode the thread holds, or a release that leaves the OS lock
// as it is, is one compare-and-swap on it, without the mutex or a lookup.
// Keeping the word in the key, not in the file state, is what makes it
// safe: a thread locking through a key holds the key alive, and it learns
// which file state the key opened (key_access::entry()) only once
// the word has said that it holds that file, which then cannot be closed.
// Anything else (the first hold, a mode the kernel must change, a second
// thread, a waiter, another spelling) is done under the mutex, which first
// moves the word's holds into the owner table; it hands them back to the
// word when one thread alone holds the file more than once and nothing is
// in flight.

#ifndef DREADLOCKS_DETAIL_PROCESS_REGISTRY_HPP_
#define DREADLOCKS_DETAIL_PROCESS_REGISTRY_HPP_

#include <algorithm>
#include <atomic>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "dreadlocks/detail/fork_safe_instance.hpp"
#include "dreadlocks/detail/hold_word.hpp"
#include "dreadlocks/detail/key_access.hpp"
#include "dreadlocks/detail/key_view.hpp"
#include "dreadlocks/detail/owners.hpp"
#include "dreadlocks/detail/posix_file.hpp"
#include "dreadlocks/detail/thread_tag.hpp"
#include "dreadlocks/detail/wait.hpp"
#include "dreadlocks/errors.hpp"
#include "dreadlocks/lock_request.hpp"

namespace dreadlocks::detail {

class process_registry {
 public:
  struct file_state {
    // In the fast mode the holds are in the opening key's word, not in the
    // counts, the owners nor `users` below, except that the word counts as
    // one user (so that the file stays open).
    file_id id;
    native_file file;
    std::uint32_t shared_holds = 0;
    std::uint32_t exclusive_holds = 0;
    std::uint32_t users = 0;  // holds and requests in flight; closed at 0
    std::uint32_t waiters = 0;
    owner_table owners;
    // One of the registry's conditions_, shared with other files (waiters
    // re-check their own file): 8 bytes per file instead of 48.
    std::condition_variable* changed = nullptr;
    // The keys of spellings_ that lead here; they own the text the views
    // in spellings_ point to.
    std::vector<lock_key> spellings;
    // The idle list (closed, users == 0), most recently released first; or
    // the orphans' list (see after_fork()).
    file_state* newer = nullptr;
    file_state* older = nullptr;
    // Blocking requests left that wait in the kernel without asking first
    // (see acquire()); kept while the file is closed and reopened.
    std::uint8_t skip_asking = 0;
    lock_kind kind;
    os_mode os = os_mode::none;  // what the kernel holds for this process
    bool in_transition = false;        // a thread waits in the kernel...
    os_mode transition_to = os_mode::none;  // ...for this mode
    bool changed_in_transition = false;  // a release touched the OS lock
    bool identified = false;  // `id` is known and the file is in files_
    // Inherited through fork(); see after_fork(). Read without the mutex
    // by release(), possibly while a fork waits for the mutex (hence
    // atomic); set only by the child's fork handler.
    std::atomic<bool> orphaned{false};
    bool idle = false;
  };

  using spelling_map = std::unordered_map<key_view, file_state*, key_view_hash>;
  using file_map =
      std::unordered_map<file_id, std::unique_ptr<file_state>, file_id_hash>;

  // What acquire() grants: the file, and the word its holds may be kept in
  // (in the block of the key that opened the file, alive while it is held).
  struct held_file {
    file_state* file;
    std::atomic<std::uint64_t>* word;
  };

  // instance()
  //
  // Returns the process's registry, shared by every process policy. It is
  // never destroyed, so that guards released from static destructors still
  // find it.
  static process_registry& instance() {
    return fork_safe_instance<process_registry, process_registry_slot>::get();
  }

  // acquire()
  //
  // Grants `request` at the process level to the thread tagged `self` (the
  // calling one), locking the file with `kind` if this process does not
  // hold it yet. Returns the file's state, to be passed back to release().
  // Throws std::system_error for a file that cannot be opened or locked,
  // recursive_deadlock_error, or
  // acquiring_process_level_lock_would_block_error, and then leaves no
  // hold, descriptor or entry behind.
  //
  // Static and small, so that the fast mode inlines into the guard: a
  // nested acquisition then costs no call and no instance() check.
  static held_file acquire(const lock_request& request, lock_kind kind,
                           bool stat_before_open, thread_tag self) {
    if (try_fast_repeat(request, self)) {
      // The word names this thread, so the file the key opened is held.
      return {static_cast<file_state*>(
                  key_access::entry(request.key, registry_slot::process)),
              &key_access::hold_word(request.key)};
    }
    return instance().acquire_slow(request, kind, stat_before_open, self);
  }

  // release()
  //
  // Gives back one hold of the given mode taken by thread `holder`; drops
  // or downgrades the OS lock when no hold needs it any more, and closes the
  // descriptor with the last hold. Never waits for another process; never
  // throws. Static and small, as acquire().
  static void release(const held_file& held, thread_tag holder,
                      bool shared) noexcept {
    file_state& file = *held.file;
    // A forked child's copy of a parent's guard: the word it names may be
    // the child's own holds now (or gone with the key); the orphaned state
    // alone is its to release. `orphaned` is set only in the child's fork
    // handler, before the child has a second thread.
    if (!file.orphaned.load(std::memory_order_relaxed) &&
        try_fast_release(*held.word, shared)) {
      return;
    }
    instance().release_slow(file, holder, shared);
  }

  // The three steps of a guard that keys its thread level by the file
  // (basic_path_lock over a ProcessPolicy that offers locate()): find the
  // file first, then lock the thread level under the file's thread key,
  // then the OS lock.
  //
  // located_file: a file found or opened for one request and counted as
  // one of its users (so that it stays open, and its thread key stays the
  // same, until the request is granted and released or abandoned).
  struct located_file {
    file_state* file = nullptr;
    // The file's thread key when it is not the request's own key (empty
    // otherwise: the common case costs no copy).
    lock_key other_thread_key = key_access::empty();
  };

  // try_repeat()
  //
  // Grants, without the mutex or a system call, a reentrant repeat of a
  // mode the calling thread `self` holds, alone, on the file the request's
  // key opened; returns false for anything else. When it grants, the
  // request's key is the file's thread key (the word lives in the block of
  // the key that opened the file).
  static bool try_repeat(const lock_request& request, thread_tag self,
                         held_file& granted) noexcept {
    if (!try_fast_repeat(request, self)) return false;
    granted = {static_cast<file_state*>(
                   key_access::entry(request.key, registry_slot::process)),
               &key_access::hold_word(request.key)};
    return true;
  }

  // locate_file()
  //
  // Finds the file the request's key names, opening it if this process
  // does not hold it (no OS lock yet), and counts the request as one of
  // its users. Throws std::system_error for a file that cannot be opened
  // (then leaves nothing behind).
  static located_file locate_file(const lock_request& request,
                                  lock_kind kind, bool stat_before_open) {
    process_registry& registry = instance();
    std::lock_guard<std::mutex> lock(registry.mutex_);
    file_state& file = registry.locate(request, kind, stat_before_open);
    located_file located;
    located.file = &file;
    // The key that opened the file: the same for every spelling while
    // anybody uses the file, and read here under the mutex (spellings may
    // grow meanwhile).
    const lock_key& opener = file.spellings.front();
    if (!opener.shares_block_with(request.key)) {
      located.other_thread_key = opener;
    }
    return located;
  }

  // thread_key()
  //
  // Returns the key the thread level locks a located file under: one key
  // per open file, whatever spelling located it.
  static const lock_key& thread_key(const located_file& located,
                                    const lock_request& request) noexcept {
    return located.other_thread_key.native().empty()
               ? request.key
               : located.other_thread_key;
  }

  // lock_located()
  //
  // Grants `request` at the process level on the file located for it, to
  // the calling thread `self`, as acquire() does. Consumes the request's
  // use of the file either way: throws as acquire(), leaving no hold and
  // no use behind.
  static held_file lock_located(located_file& located,
                                const lock_request& request,
                                thread_tag self) {
    process_registry& registry = instance();
    std::unique_lock<std::mutex> lock(registry.mutex_);
    file_state& file = *std::exchange(located.file, nullptr);
    return registry.raise(lock, file, request, self);
  }

  // abandon_located()
  //
  // Drops the request's use of a located file it will not lock (the thread
  // level refused it); closes the file if nobody else uses it.
  static void abandon_located(located_file& located) noexcept {
    file_state* file = std::exchange(located.file, nullptr);
    if (file == nullptr) return;
    process_registry& registry = instance();
    std::lock_guard<std::mutex> lock(registry.mutex_);
    if (file->orphaned) {
      registry.forget_orphan(*file);
    } else {
      registry.abandon(*file);
    }
  }

  // trim()
  //
  // Forgets the closed files kept for reopening and frees the spare states:
  // for measuring what held files cost.
  void trim() {
    const std::lock_guard<std::mutex> lock(mutex_);
    while (idle_oldest_ != nullptr) forget_idle(*idle_oldest_);
    spare_files_.clear();
    spare_spellings_.clear();
    spare_file_nodes_.clear();
    // The fewest buckets for what is left: a table that once held many
    // files would otherwise shrink on its next insertion (libstdc++).
    files_.rehash(0);
    spellings_.rehash(0);
  }

  // open_files()
  //
  // Returns the number of lock files this process holds open; 0 when no
  // process-level lock is held or asked for.
  std::size_t open_files() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return files_.size() + (unidentified_ != nullptr ? 1 : 0);
  }

 private:
  // Grants a repeat of a mode the calling thread holds, alone, in the fast
  // mode of the file the request's key opened; nothing the kernel holds
  // changes. Every other key's word says kSlow.
  static bool try_fast_repeat(const lock_request& request,
                              thread_tag self) noexcept {
    if (!request.reentry_allowed) return false;
    std::atomic<std::uint64_t>& hold_word = key_access::hold_word(request.key);
    std::uint64_t word = hold_word.load(std::memory_order_relaxed);
    for (;;) {
      if (word == hold_word::kSlow || hold_word::holder(word) != self) {
        return false;
      }
      // Shared is covered by any hold; exclusive only by exclusive.
      if (!request.shared && hold_word::count(word, false) == 0) return false;
      if (hold_word::count(word, request.shared) >= hold_word::kMost) {
        return false;
      }
      if (hold_word::update(hold_word, word,
                            word + hold_word::unit(request.shared),
                            std::memory_order_acquire)) {
        return true;
      }
    }
  }

  held_file acquire_slow(const lock_request& request, lock_kind kind,
                         bool stat_before_open, thread_tag self) {
    std::unique_lock<std::mutex> lock(mutex_);
    return raise(lock, locate(request, kind, stat_before_open), request, self);
  }

  // Grants `request` on `file`, located for it (one of its users), under
  // the mutex held by `lock`; on a throw the request's use is dropped.
  held_file raise(std::unique_lock<std::mutex>& lock, file_state& file,
                  const lock_request& request, thread_tag self) {
    if (!request.reentry_allowed && file.owners.find(self) != nullptr) {
      abandon(file);
      throw recursive_deadlock_error(
          request.operation, request.path(), lock_level::process,
          request.shared,
          "asked again by the thread that holds it, without reentrancy");
    }
    const os_mode wanted = request.shared ? os_mode::shared : os_mode::exclusive;
    auto pause = std::chrono::microseconds(0);
    bool asked_without_waiting = false;
    while (file.os < wanted) {
      if (file.in_transition) {
        if (!request.may_wait()) {
          try_beside_transition(file, request, wanted);
          continue;
        }
        // Another thread already asks the kernel; wait for its answer
        // rather than queue a second request on the same descriptor.
        ++file.waiters;
        const bool ended = wait_on(*file.changed, lock, request.deadline,
                                   [&] { return !file.in_transition; });
        --file.waiters;
        if (!ended) fail_would_block(file, request);
        continue;
      }
      if (!request.may_wait() || request.timed()) {
        // A non-blocking call never waits, so the mutex may stay held.
        const lock_result result =
            set_file_lock(file.file, file.kind, wanted, false);
        if (result.status == lock_status::acquired) {
          file.os = wanted;
        } else if (result.status == lock_status::would_block &&
                   request.timed() &&
                   lock_request::clock::now() < request.deadline) {
          pause = pause_before_retry(lock, pause, request.deadline);
        } else {
          settle(file, request, result);
        }
        continue;
      }
      if (!asked_without_waiting && file.skip_asking == 0) {
        // Most requests are granted at once: asking without waiting first,
        // under the mutex, spares releasing and retaking it around the
        // kernel call. Refused, it costs one more call, so after a refusal
        // the next few requests on the file wait in the kernel at once.
        asked_without_waiting = true;
        const lock_result result =
            set_file_lock(file.file, file.kind, wanted, false);
        if (result.status == lock_status::acquired) {
          file.os = wanted;
        } else if (result.status == lock_status::would_block) {
          file.skip_asking = kSkipAskingAfterRefusal;
        } else {
          settle(file, request, result);
        }
        continue;
      }
      if (file.skip_asking != 0 && !asked_without_waiting) {
        --file.skip_asking;
        asked_without_waiting = true;
      }
      file.in_transition = true;
      file.transition_to = wanted;
      file.changed_in_transition = false;
      lock.unlock();
      lock_result result = set_file_lock(file.file, file.kind, wanted, true);
      lock.lock();
      file.in_transition = false;
      if (file.waiters != 0) file.changed->notify_all();
      // Other threads may have raised the OS lock meanwhile (never above
      // what we asked: see try_beside_transition()) or dropped it.
      const os_mode granted = std::max(file.os, wanted);
      if (result.status == lock_status::acquired &&
          file.changed_in_transition) {
        // A release dropped the OS lock while we waited, perhaps after our
        // grant: ask again without waiting; retry from the top if lost.
        result = set_file_lock(file.file, file.kind, granted, false);
        if (result.status == lock_status::would_block) continue;
      }
      if (result.status == lock_status::acquired) {
        file.os = granted;
      } else {
        settle(file, request, result);
      }
    }
    try {
      file.owners.add(self, request.shared);  // a second thread allocates
    } catch (...) {
      // The OS lock may have been raised for this request alone.
      drop_unneeded_os(file);
      abandon(file);
      throw;
    }
    ++(request.shared ? file.shared_holds : file.exclusive_holds);
    make_fast(file);
    return {&file, &key_access::hold_word(file.spellings.front())};
  }

  // Gives back a hold in the fast mode, when the word keeps the holds and
  // the release leaves the OS lock as it is; returns false otherwise.
  static bool try_fast_release(std::atomic<std::uint64_t>& hold_word,
                               bool shared) noexcept {
    std::uint64_t word = hold_word.load(std::memory_order_relaxed);
    for (;;) {
      if (word == hold_word::kSlow) return false;
      // The last hold of the mode that sets the OS lock changes it.
      const bool changes_os =
          shared ? hold_word::count(word, false) == 0 &&
                       hold_word::count(word, true) == 1
                 : hold_word::count(word, false) == 1;
      if (changes_os) return false;
      if (hold_word::update(hold_word, word, word - hold_word::unit(shared),
                            std::memory_order_release)) {
        return true;
      }
    }
  }

  void release_slow(file_state& file, thread_tag holder, bool shared) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    make_slow(file);
    file.owners.remove(holder, shared);
    --(shared ? file.shared_holds : file.exclusive_holds);
    if (file.orphaned) {
      forget_orphan(file);
      return;
    }
    drop_unneeded_os(file);
    abandon(file);
  }

  // Lowers the OS lock to what the file's holds need, if it is stronger.
  static void drop_unneeded_os(file_state& file) noexcept {
    const os_mode needed = file.exclusive_holds != 0 ? os_mode::exclusive
                           : file.shared_holds != 0  ? os_mode::shared
                                                     : os_mode::none;
    if (needed < file.os) {
      // Unlocking or downgrading a lock we hold never blocks.
      set_file_lock(file.file, file.kind, needed, false);
      file.os = needed;
      if (file.in_transition) file.changed_in_transition = true;
    }
  }

  // A forked child is a new process and holds no locks: classic locks are
  // not inherited, and an inherited OFD descriptor would make the child
  // share the parent's lock. So the child closes its copies of the
  // descriptors (which leaves the parent's locks alone) and starts empty;
  // its copies of guards release into orphaned states without touching the
  // OS. The mutex is held across fork() so that the child never
  // inherits it locked by a thread that does not exist there: the fork
  // handlers of detail/fork_safe_instance.hpp lock it and run after_fork()
  // (registered before the registry is made, so that a fork during its
  // making cannot leave the child without it or stuck).
  process_registry() {
    // Reserved so that keeping a spare never allocates in a noexcept path.
    spare_files_.reserve(kSpares);
    spare_spellings_.reserve(kSpares);
    spare_file_nodes_.reserve(kSpares);
  }
  friend class fork_safe_instance<process_registry, process_registry_slot>;

  void after_fork() noexcept {
    // The condition variables are shared by keys, and a parent's thread may
    // have been waiting on one, which leaves the child's copy undefined
    // (POSIX). Fresh ones, without destroying the old (undefined with a
    // waiter).
    for (std::condition_variable& condition : conditions_) {
      new (&condition) std::condition_variable;
    }
    const auto orphan = [&](std::unique_ptr<file_state>& file) {
      make_slow(*file);  // its orphaned guards release through the mutex
      close_file(file->file);
      file->file = invalid_file;
      for (const lock_key& spelling : file->spellings) forget_opener(spelling);
      file->spellings.clear();
      file->orphaned = true;
      // Kept on a list threaded through the idle list's links, which an
      // open file does not use: a fork handler must not allocate.
      file_state* const state = file.release();
      state->newer = nullptr;
      state->older = orphans_;
      if (orphans_ != nullptr) orphans_->newer = state;
      orphans_ = state;
    };
    while (idle_oldest_ != nullptr) forget_idle(*idle_oldest_);
    for (const raced_descriptor& raced : raced_) close_file(raced.descriptor);
    raced_.clear();
    for (auto& [id, file] : files_) orphan(file);
    if (unidentified_ != nullptr) orphan(unidentified_);
    files_.clear();
    spellings_.clear();
  }

  void forget_orphan(file_state& file) noexcept {
    if (--file.users != 0) return;
    (file.newer != nullptr ? file.newer->older : orphans_) = file.older;
    if (file.older != nullptr) file.older->newer = file.newer;
    delete &file;
  }

  // Moves the word's holds into the counts, the owner table and `users`,
  // and marks the word slow, so that fast operations wait for the mutex.
  static void make_slow(file_state& file) noexcept {
    if (file.spellings.empty()) return;  // never held: never fast
    const std::uint64_t word =
        hold_word::take(key_access::hold_word(file.spellings.front()));
    if (word == hold_word::kSlow) return;
    const std::uint32_t shared = hold_word::count(word, true);
    const std::uint32_t exclusive = hold_word::count(word, false);
    // The table is empty in the fast mode: adding allocates nothing.
    file.owners.add(hold_word::holder(word), shared, exclusive);
    file.shared_holds += shared;
    file.exclusive_holds += exclusive;
    file.users += shared + exclusive - 1;  // the word counted as one
  }

  // Hands the holds back to the word when one thread alone holds the file,
  // more than once, and no request is in flight or waiting.
  static void make_fast(file_state& file) noexcept {
    if (file.waiters != 0 || file.in_transition || file.orphaned) return;
    const auto* only = file.owners.only();
    // A single hold stays with the mutex: its release changes the OS lock
    // and needs the mutex anyway, so the word would only be filled and
    // emptied again. The first nested hold hands both to the word.
    if (only == nullptr || only->shared + only->exclusive < 2 ||
        file.users != file.shared_holds + file.exclusive_holds ||
        only->shared > hold_word::kMost || only->exclusive > hold_word::kMost) {
      return;
    }
    file.users -= only->shared + only->exclusive - 1;
    file.shared_holds = 0;
    file.exclusive_holds = 0;
    const std::uint64_t word =
        hold_word::make(only->thread, only->shared, only->exclusive);
    file.owners.clear();
    // The key has known its file since adopt_spelling(), before its word
    // names a holder: a thread reads the file only after the word has
    // named it.
    const lock_key& opener = file.spellings.front();
    assert(key_access::entry(opener, registry_slot::process) == &file);
    key_access::hold_word(opener).store(word, std::memory_order_release);
  }

  // Finds or opens the file a request names, counts the request as one of
  // its users and takes the file out of the fast mode.
  //
  // Allocates first, changes after: everything the registry may need to
  // record the file (a file state, table nodes and buckets, a slot for a
  // raced descriptor) is allocated before the first change to the registry
  // and before a descriptor is opened, so that std::bad_alloc can only come
  // while there is nothing to undo. The steps after the file is opened
  // allocate nothing.
  file_state& locate(const lock_request& request, lock_kind kind,
                     bool stat_before_open) {
    const lock_key& spelling = request.key;
    // A closed file that this spelling opened last: reopened below, in its
    // old state, unless the spelling now names a file we hold.
    file_state* idle = nullptr;
    if (file_state* known = find_spelling(spelling)) {
      file_state& file = *known;
      if (!file.idle) {
        make_slow(file);
        ++file.users;
        return file;
      }
      idle = &file;
    }
    const char* path = request.key.c_str();
    // Only a file this process holds open could be opened a second time.
    const bool holding = files_.size() + (unidentified_ != nullptr) != 0;
    // A cycle on one path wakes its idle state and needs nothing new.
    if (idle == nullptr || holding) {
      reserve_for_new_file(spelling, holding, idle == nullptr);
    }
    file_id id{};
    int error = 0;
    if (holding) {
      identify_unidentified();
      if (stat_before_open && identify_path(path, id, error)) {
        if (auto held = files_.find(id); held != files_.end()) {
          if (idle != nullptr) forget_idle(*idle);
          return adopt_spelling(*held->second, spelling);
        }
      }
    }
    bool dangling = false;
    const native_file opened = open_lock_file(path, error, dangling);
    if (opened == invalid_file) {
      throw std::system_error(
          error, std::generic_category(),
          std::string(request.operation) + ": cannot open lock file \"" +
              path + "\"" +
              (dangling ? " (a dangling symlink; its target is not created)"
                        : ""));
    }
    if (holding) {
      if (!identify_file(opened, id, error)) {
        close_file(opened);
        throw std::system_error(error, std::generic_category(),
                                std::string(request.operation) +
                                    ": cannot stat lock file \"" + path +
                                    "\"");
      }
      if (auto held = files_.find(id); held != files_.end()) {
        // The path was renamed onto a file we hold after we looked, or this
        // spelling was not stat'ed first. Closing `opened` would release a
        // classic lock of the process; an OFD lock belongs to the other
        // description and survives.
        file_state& file = *held->second;
        if (file.kind == lock_kind::ofd) {
          close_file(opened);
        } else {
          raced_.push_back({&file, opened});  // reserved: cannot throw
        }
        if (idle != nullptr) forget_idle(*idle);
        return adopt_spelling(file, spelling);
      }
    }
    // Nothing below allocates: the state, its spelling's room and the
    // table's node and buckets were made by reserve_for_new_file().
    std::unique_ptr<file_state> file =
        idle != nullptr ? wake(*idle) : take_spare(spare_files_);
    file->id = id;
    file->identified = holding;
    file->file = opened;
    file->kind = ofd_refused_.load(std::memory_order_relaxed)
                     ? lock_kind::classic
                     : kind;
    file_state& state = *file;
    if (holding) {
      insert_file(id, std::move(file));
    } else {
      unidentified_ = std::move(file);
    }
    if (idle != nullptr) {
      ++state.users;  // its spelling still leads here
      return state;
    }
    return adopt_spelling(state, spelling);
  }

  // Makes what locate() may need to record a file it has not seen, so that
  // nothing it does after opening the file can fail: unless an idle state
  // is woken, a spare file state with room for one spelling and a spelling
  // node with room for it in the table; while other files are held, two
  // file nodes and the buckets for them (the file opened alone, identified
  // now, and the new one) and a slot for a raced descriptor. What is not
  // used is kept as a spare. Throws std::bad_alloc, having changed nothing
  // but the spares.
  void reserve_for_new_file(const lock_key& spelling, bool holding,
                            bool needs_state) {
    // A woken idle state keeps its spelling; one that turns out to name a
    // held file goes through adopt_spelling(), which allocates first too.
    if (needs_state) {
      if (spare_files_.empty()) {
        auto file = std::make_unique<file_state>();
        file->changed = &conditions_[next_condition_++ % kConditions];
        file->spellings.reserve(1);
        spare_files_.push_back(std::move(file));  // reserved: cannot throw
      }
      reserve_spelling(spelling);
    }
    if (holding) {
      files_.reserve(files_.size() + 2);
      while (spare_file_nodes_.size() < 2) {
        file_map scratch;
        scratch.emplace(file_id{}, nullptr);
        spare_file_nodes_.push_back(scratch.extract(scratch.begin()));
      }
      raced_.reserve(raced_.size() + 1);
    }
  }

  // Makes a spare node and room in the table for one more spelling.
  void reserve_spelling(const lock_key& spelling) {
    spellings_.reserve(spellings_.size() + 1);
    if (spare_spellings_.empty()) {
      spelling_map scratch;
      scratch.emplace(key_view(spelling), nullptr);
      spare_spellings_.push_back(scratch.extract(scratch.begin()));
    }
  }

  // Records an open file under its (device, inode) in a node and buckets
  // made beforehand (reserve_for_new_file()).
  void insert_file(const file_id& id, std::unique_ptr<file_state> file) noexcept {
    assert(!spare_file_nodes_.empty());
    file_map::node_type node = take_spare(spare_file_nodes_);
    node.key() = id;
    node.mapped() = std::move(file);
    files_.insert(std::move(node));  // buckets reserved: no rehash
  }

  // Takes the last of `spares`, which must not be empty.
  template <class Spare>
  static Spare take_spare(std::vector<Spare>& spares) noexcept {
    Spare spare = std::move(spares.back());
    spares.pop_back();
    return spare;
  }

  // Gives the file opened while nothing else was held its (device, inode),
  // so that a new spelling can be compared with it. If fstat fails (only
  // if the user closed native_handle()), it stays unidentified. Needs what
  // reserve_for_new_file() makes for a process that holds a file.
  void identify_unidentified() noexcept {
    if (unidentified_ == nullptr) return;
    file_id id{};
    int error = 0;
    if (!identify_file(unidentified_->file, id, error)) return;
    unidentified_->id = id;
    unidentified_->identified = true;
    insert_file(id, std::move(unidentified_));
  }

  // Returns the file state `spelling` leads to (open or idle), or nullptr.
  // The key that opened a file points to its state (key_access::entry())
  // for as long as the state keeps it as a spelling, which spares the
  // opener the hash table: what a cycle of lock and unlock on one path
  // finds every time.
  file_state* find_spelling(const lock_key& spelling) const noexcept {
    if (void* opened = key_access::entry(spelling, registry_slot::process)) {
      return static_cast<file_state*>(opened);
    }
    const auto known = spellings_.find(key_view(spelling));
    return known != spellings_.end() ? known->second : nullptr;
  }

  // Makes `spelling` lead to `file` and counts it as a user of the file.
  // Allocates first (room in the file's spellings and in the table, a node
  // when no spare is left), changes after. Throws std::bad_alloc, having changed nothing.
  file_state& adopt_spelling(file_state& file, const lock_key& spelling) {
    file.spellings.reserve(file.spellings.size() + 1);
    reserve_spelling(spelling);
    make_slow(file);
    ++file.users;
    spelling_map::node_type node = take_spare(spare_spellings_);
    node.key() = key_view(spelling);
    node.mapped() = &file;
    spellings_.insert(std::move(node));
    file.spellings.push_back(spelling);  // reserved: cannot throw
    if (file.spellings.size() == 1) {
      key_access::set_entry(spelling, registry_slot::process, &file);
    }
    return file;
  }

  // Serves a non-blocking request while another thread of this process
  // waits in the kernel for `file.transition_to`: it must not sleep, and is
  // refused only if the kernel refuses it too. It asks for at least the
  // pending mode, so that it can never downgrade a lock the kernel has just
  // granted to the waiting thread; and it is refused outright when it needs
  // exclusive while the pending request is for shared, because that shared
  // request, granted later, would downgrade it.
  void try_beside_transition(file_state& file, const lock_request& request,
                             os_mode wanted) {
    if (wanted > file.transition_to) fail_would_block(file, request);
    const lock_result result =
        set_file_lock(file.file, file.kind, file.transition_to, false);
    if (result.status == lock_status::acquired) {
      file.os = std::max(file.os, file.transition_to);
    } else {
      settle(file, request, result);
    }
  }

  // Ends a request that could not be granted as it stood: falls back from
  // OFD locks the kernel refuses, or throws after abandoning the file.
  void settle(file_state& file, const lock_request& request,
              const lock_result& result) {
    switch (result.status) {
      case lock_status::acquired:
        return;
      case lock_status::unsupported:
        ofd_refused_.store(true, std::memory_order_relaxed);
        file.kind = lock_kind::classic;
        return;
      case lock_status::would_block:
        fail_would_block(file, request);
      case lock_status::deadlock:
        abandon(file);
        throw recursive_deadlock_error(
            request.operation, request.path(), lock_level::process,
            request.shared,
            "would deadlock with another process (reported by the kernel)");
      case lock_status::failed:
        break;
    }
    abandon(file);
    throw std::system_error(result.error, std::generic_category(),
                            std::string(request.operation) +
                                ": cannot lock \"" +
                                request.path().string() + "\"");
  }

  [[noreturn]] void fail_would_block(file_state& file,
                                     const lock_request& request) {
    abandon(file);
    throw acquiring_process_level_lock_would_block_error(
        request.operation, request.path(), request.shared,
        refusal_reason(request));
  }

  // A timed request polls: the kernel has no timed lock wait, and a timer
  // signal to interrupt F_SETLKW would be the application's to give. The
  // pause doubles from 1 ms up to 16 ms, so a long wait costs a few system
  // calls per 16 ms (well under 1% of a core), and never overshoots the
  // deadline. Returns the next pause.
  static std::chrono::microseconds pause_before_retry(
      std::unique_lock<std::mutex>& lock, std::chrono::microseconds pause,
      lock_request::clock::time_point deadline) {
    using std::chrono::microseconds;
    pause = pause == microseconds(0) ? microseconds(1000)
                                     : std::min(pause * 2, microseconds(16000));
    lock.unlock();
    std::this_thread::sleep_until(
        std::min(deadline, lock_request::clock::now() + pause));
    lock.lock();
    return pause;
  }

  // Drops one user of the file; the last one closes the descriptor and
  // forgets the file and its spellings.
  void abandon(file_state& file) noexcept {
    if (--file.users != 0) {
      if (file.waiters != 0) file.changed->notify_all();
      make_fast(file);
      return;
    }
    if (file.os != os_mode::none) {
      set_file_lock(file.file, file.kind, os_mode::none, false);
    }
    close_file(file.file);
    if (!raced_.empty()) close_raced(file);
    // Only the spelling that opened the file may lead to it once closed:
    // the others were checked against it only while it was held.
    while (file.spellings.size() > 1) {
      drop_spelling(file.spellings.back());
      file.spellings.pop_back();
    }
    std::unique_ptr<file_state> owned;
    if (file.identified) {
      file_map::node_type node = files_.extract(file.id);
      owned = std::move(node.mapped());
      if (spare_file_nodes_.size() < kSpares) {
        spare_file_nodes_.push_back(std::move(node));  // reserved
      }
    } else {
      owned = std::move(unidentified_);
    }
    rest(std::move(owned));
  }

  // Closes the descriptors raced onto `file` (see raced_), as it closes.
  void close_raced(const file_state& file) noexcept {
    for (std::size_t i = 0; i < raced_.size();) {
      if (raced_[i].file == &file) {
        close_file(raced_[i].descriptor);
        raced_[i] = raced_.back();
        raced_.pop_back();
      } else {
        ++i;
      }
    }
  }

  // Lays a closed file state (no user, one spelling) to rest at the head of
  // the idle list, so that its spelling reopens it without allocating or
  // touching spellings_; forgets the oldest idle one beyond kIdleFiles.
  void rest(std::unique_ptr<file_state> owned) noexcept {
    file_state& file = *owned;
    // Back to the initial state; owners, holds and waiters already are.
    file.identified = false;
    file.file = invalid_file;
    file.os = os_mode::none;
    file.in_transition = false;
    file.changed_in_transition = false;
    if (file.spellings.empty()) {
      // Never reached by a spelling (adopt_spelling() failed): a spare.
      if (spare_files_.size() < kSpares) {
        spare_files_.push_back(std::move(owned));  // reserved
      }
      return;
    }
    owned.release();  // owned by the idle list until wake()
    file.idle = true;
    file.newer = nullptr;
    file.older = idle_newest_;
    if (idle_newest_ != nullptr) idle_newest_->newer = &file;
    idle_newest_ = &file;
    if (idle_oldest_ == nullptr) idle_oldest_ = &file;
    if (++idle_count_ > kIdleFiles) forget_idle(*idle_oldest_);
  }

  // Takes a file state out of the idle list and returns it, owned.
  std::unique_ptr<file_state> wake(file_state& file) noexcept {
    (file.newer != nullptr ? file.newer->older : idle_newest_) = file.older;
    (file.older != nullptr ? file.older->newer : idle_oldest_) = file.newer;
    file.idle = false;
    file.newer = file.older = nullptr;
    --idle_count_;
    return std::unique_ptr<file_state>(&file);
  }

  // Forgets an idle file state and its spelling; keeps both as spares.
  void forget_idle(file_state& file) noexcept {
    std::unique_ptr<file_state> owned = wake(file);
    for (const lock_key& spelling : file.spellings) drop_spelling(spelling);
    file.spellings.clear();
    if (spare_files_.size() < kSpares) {
      spare_files_.push_back(std::move(owned));  // reserved
    }
  }

  void drop_spelling(const lock_key& spelling) noexcept {
    forget_opener(spelling);
    spelling_map::node_type node = spellings_.extract(key_view(spelling));
    if (spare_spellings_.size() < kSpares) {
      spare_spellings_.push_back(std::move(node));  // reserved
    }
  }

  // Clears the pointer of a key to the state of the file it opened, as the
  // state lets go of the key (see find_spelling()).
  static void forget_opener(const lock_key& spelling) noexcept {
    if (key_access::entry(spelling, registry_slot::process) != nullptr) {
      key_access::set_entry(spelling, registry_slot::process, nullptr);
    }
  }

  // How many closed files are kept, with their spelling, for reopening;
  // and how many spare file states and spelling entries beyond those.
  static constexpr std::size_t kIdleFiles = 8;
  static constexpr std::size_t kSpares = 8;
  static constexpr std::size_t kConditions = 16;
  static constexpr std::uint8_t kSkipAskingAfterRefusal = 8;

  mutable std::mutex mutex_;
  std::condition_variable conditions_[kConditions];
  std::size_t next_condition_ = 0;
  // The open files: identified ones by (device, inode), and at most one
  // opened while no other file was (see locate()).
  file_map files_;
  std::unique_ptr<file_state> unidentified_;
  spelling_map spellings_;
  file_state* idle_newest_ = nullptr;
  file_state* idle_oldest_ = nullptr;
  std::size_t idle_count_ = 0;
  std::vector<std::unique_ptr<file_state>> spare_files_;
  std::vector<spelling_map::node_type> spare_spellings_;
  std::vector<file_map::node_type> spare_file_nodes_;
  // Descriptors opened to a held file by a spelling renamed onto it while
  // it was looked up (see locate()): closing one would release the file's
  // classic lock, so they stay open until the file is closed. Rare; kept
  // here rather than per file so that locate() can make room for one
  // before it opens anything.
  struct raced_descriptor {
    file_state* file;
    native_file descriptor;
  };
  std::vector<raced_descriptor> raced_;
  // The states inherited through fork() that guards still hold (see
  // after_fork()), linked through `newer` and `older`.
  file_state* orphans_ = nullptr;
  std::atomic<bool> ofd_refused_{false};
};

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_PROCESS_REGISTRY_HPP_
