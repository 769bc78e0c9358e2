// Temporary: replaced by the lock_key split.
#include "dreadlocks/lock_request.hpp"
