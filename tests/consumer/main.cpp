// A program outside the dreadlocks workspace that depends on
// @dreadlocks//dreadlocks: checks that the headers, the Bazel target and
// dreadlocks_dependencies() work for a consumer.
#include <iostream>

#include "dreadlocks/dreadlocks.hpp"

int main() {
  dreadlocks::thread_level_path_lock lock("/tmp/dreadlocks-consumer.lock");
  if (!lock.owns_lock()) {
    std::cerr << "consumer: lock not owned\n";
    return 1;
  }
  std::cout << "consumer: locked " << lock.path() << '\n';
  return 0;
}
