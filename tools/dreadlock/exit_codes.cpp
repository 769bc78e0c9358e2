// tools/dreadlock/exit_codes.cpp

#include "tools/dreadlock/exit_codes.hpp"

#include <cerrno>

namespace dreadlock_cli {

int exit_code_for_lock_error(const std::error_code& error) noexcept {
  if (error.category() != std::generic_category() &&
      error.category() != std::system_category()) {
    return os_error_exit;
  }
  switch (error.value()) {
    case EROFS:
    case ENOSPC:
#if defined(EDQUOT)
    case EDQUOT:
#endif
      return cannot_create_exit;
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case ENOLCK:
    case EIO:
    case EDEADLK:
      return os_error_exit;
    default:
      return cannot_open_exit;
  }
}

}  // namespace dreadlock_cli
