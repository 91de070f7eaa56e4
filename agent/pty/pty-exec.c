// pty-exec: runs a program on a new pseudo-terminal and relays it, for the guest agent, which
// (being Node) can neither make a terminal nor receive runc's console over SCM_RIGHTS.
//
//   pty-exec PROGRAM [ARG...]
//
// The program (runc run / runc exec --tty) gets the terminal as its stdin, stdout, stderr and
// controlling terminal, so runc relays it to the container's own console and passes on its
// size. Bytes on our stdin go to the terminal (its end: a VEOF byte); what the terminal prints
// comes out on our stdout; lines "COLUMNS ROWS" on fd 3 resize it. We exit as the program did
// (128 + N for a signal N), once it has ended and its output is drained.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define CONTROL_FD 3
// A program that has ended may leave a child holding the terminal: stop waiting for its
// output this long after.
#define DRAIN_MS 500
#define CHECK_MS 100

static int write_all(int fd, const char *data, size_t length) {
  while (length > 0) {
    ssize_t n = write(fd, data, length);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    data += n;
    length -= (size_t)n;
  }
  return 0;
}

// Applies every complete "COLUMNS ROWS" line in the control buffer.
static void apply_resizes(int master, char *buffer, size_t *used) {
  char *line = buffer, *end;
  while ((end = memchr(line, '\n', *used - (size_t)(line - buffer))) != NULL) {
    *end = '\0';
    unsigned columns, rows;
    if (sscanf(line, "%u %u", &columns, &rows) == 2) {
      struct winsize size = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)columns };
      ioctl(master, TIOCSWINSZ, &size);
    }
    line = end + 1;
  }
  *used -= (size_t)(line - buffer);
  memmove(buffer, line, *used);
  if (*used == 64) *used = 0;  // a line too long to be a size
}

static int exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: pty-exec PROGRAM [ARG...]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
    perror("pty-exec: posix_openpt");
    return 1;
  }
  const char *slave_name = ptsname(master);
  pid_t child = fork();
  if (child < 0) {
    perror("pty-exec: fork");
    return 1;
  }
  if (child == 0) {
    // A new session whose controlling terminal is the new one.
    int slave = -1;
    if (setsid() < 0 || (slave = open(slave_name, O_RDWR)) < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) {
      perror("pty-exec: terminal");
      _exit(127);
    }
    dup2(slave, 0);
    dup2(slave, 1);
    dup2(slave, 2);
    if (slave > 2) close(slave);
    close(CONTROL_FD);
    execvp(argv[1], argv + 1);
    perror("pty-exec: exec");
    _exit(127);
  }

  char data[32768], control[64];
  size_t control_used = 0;
  int input_open = 1, control_open = fcntl(CONTROL_FD, F_GETFD) >= 0, status = 0, ended = 0;
  int drain_left = DRAIN_MS;
  for (;;) {
    struct pollfd fds[3] = {
      { .fd = master, .events = POLLIN },
      { .fd = input_open ? 0 : -1, .events = POLLIN },
      { .fd = control_open ? CONTROL_FD : -1, .events = POLLIN },
    };
    int ready = poll(fds, 3, CHECK_MS);
    if (ready < 0 && errno != EINTR) break;
    if (!ended && waitpid(child, &status, WNOHANG) == child) ended = 1;
    if (ready <= 0) {
      if (ended && (drain_left -= CHECK_MS) <= 0) break;
      continue;
    }
    if (fds[0].revents) {
      ssize_t n = read(master, data, sizeof data);
      // EIO: every holder of the terminal closed it.
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
      if (n > 0 && write_all(1, data, (size_t)n) < 0) break;
    }
    if (fds[1].revents) {
      ssize_t n = read(0, data, sizeof data);
      if (n > 0) {
        write_all(master, data, (size_t)n);
      } else if (n == 0 || (n < 0 && errno != EINTR)) {
        struct termios modes;
        char eof = tcgetattr(master, &modes) == 0 ? (char)modes.c_cc[VEOF] : 4;
        write_all(master, &eof, 1);
        input_open = 0;
      }
    }
    if (fds[2].revents) {
      ssize_t n = read(CONTROL_FD, control + control_used, sizeof control - control_used);
      if (n > 0) {
        control_used += (size_t)n;
        apply_resizes(master, control, &control_used);
      } else if (n == 0 || (n < 0 && errno != EINTR)) {
        control_open = 0;
      }
    }
  }
  if (!ended) waitpid(child, &status, 0);
  return exit_code(status);
}
