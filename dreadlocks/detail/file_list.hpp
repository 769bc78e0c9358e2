// dreadlocks/detail/file_list.hpp
//
// A list of file states threaded through their own `newer` and `older`
// links, newest first: the file table's idle files (closed, kept for
// reopening) and its orphans (inherited through fork()). A state is on at
// most one list, so one pair of links serves both; linking and unlinking
// allocate nothing, which a fork handler needs.

#ifndef DREADLOCKS_DETAIL_FILE_LIST_HPP_
#define DREADLOCKS_DETAIL_FILE_LIST_HPP_

#include <cstddef>

namespace dreadlocks::detail {

template <class File>
class file_list {
 public:
  // Puts `file` first (newest).
  void push_newest(File& file) noexcept {
    file.newer = nullptr;
    file.older = newest_;
    (newest_ != nullptr ? newest_->newer : oldest_) = &file;
    newest_ = &file;
    ++size_;
  }

  // Takes `file`, which is on this list, off it.
  void unlink(File& file) noexcept {
    (file.newer != nullptr ? file.newer->older : newest_) = file.older;
    (file.older != nullptr ? file.older->newer : oldest_) = file.newer;
    file.newer = file.older = nullptr;
    --size_;
  }

  File* oldest() const noexcept { return oldest_; }
  std::size_t size() const noexcept { return size_; }

 private:
  File* newest_ = nullptr;
  File* oldest_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_FILE_LIST_HPP_
