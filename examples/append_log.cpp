// Several processes append to one log file; each record is written in
// pieces (as a logger writing a header, a message and a newline would), and
// an exclusive lock around each record keeps records from interleaving.
// The lock is a separate file, LOG.lock: the log's own descriptors are then
// opened and closed freely without touching the lock.
//
//   append_log LOG NAME COUNT   append COUNT records "NAME n: ... end"
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "dreadlocks/dreadlocks.hpp"

namespace {

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      std::perror("append_log: write");
      std::exit(1);
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: append_log LOG NAME COUNT\n");
    return 64;
  }
  const std::string log = argv[1];
  const std::string name = argv[2];
  const int count = std::atoi(argv[3]);

  const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::perror("append_log: open");
    return 1;
  }
  for (int i = 0; i < count; ++i) {
    dreadlocks::path_lock record(log + ".lock");  // released at the brace
    write_all(fd, name + " " + std::to_string(i) + ": ");
    std::this_thread::yield();  // invite another writer in: it must wait
    write_all(fd, "some message");
    std::this_thread::yield();
    write_all(fd, " end\n");
  }
  ::close(fd);
  return 0;
}
