/*
 * Podvisor's stream relay: joins the daemon's pipes to a socket Node cannot open itself.
 *
 *   stream-relay attach [-n]       connect to the SOCK_SEQPACKET socket "attach" in the current
 *                                  directory (conmon's attach socket). Every packet conmon sends
 *                                  starts with a byte naming the pipe (2 stdout, 3 stderr); it goes
 *                                  to stdout as a frame: that byte, the payload length as 4 bytes
 *                                  big-endian, the payload. A frame of pipe 0 and length 0 says the
 *                                  connection is made. -n: there is no stdin, so none is relayed and
 *                                  the socket's write side stays open (a shutdown would close the
 *                                  container's stdin).
 *   stream-relay tcp PORT [NETNS]  enter the network namespace bind-mounted at NETNS (if given) and
 *                                  connect to PORT on 127.0.0.1, or on ::1 if that fails; bytes pass
 *                                  unchanged both ways.
 *
 * stdin goes to the socket and its EOF shuts the socket's write side. Nothing is read from one
 * side until what was read before is written to the other, so a slow reader slows the writer
 * and nothing piles up here. The relay ends when the socket's read side ends and all output is
 * written. Exit status: 0 ended cleanly, 2 could not connect, 1 anything else.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* conmon 2.1 reads each stdin packet into a 32 KiB buffer and cuts longer ones short. */
#define ATTACH_INPUT_MAX 32768
/* conmon sends at most 8 KiB of output (plus the pipe byte) per packet: room to spare. */
#define BUF_SIZE 65536
#define FRAME_HEADER 5

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_NO_CONNECTION = 2 };

struct relay {
    int sock;
    int framed;
    int has_stdin;
    char in[BUF_SIZE];
    size_t in_len, in_off;
    int in_eof, write_shut;
    char out[FRAME_HEADER + BUF_SIZE];
    size_t out_len, out_off;
    int sock_eof;
};

static struct relay r;

static int fail(const char *what) {
    fprintf(stderr, "stream-relay: %s: %s\n", what, strerror(errno));
    return EXIT_FAILED;
}

static void put_frame_header(char *at, unsigned char pipe, uint32_t length) {
    at[0] = (char)pipe;
    at[1] = (char)(length >> 24);
    at[2] = (char)(length >> 16);
    at[3] = (char)(length >> 8);
    at[4] = (char)length;
}

static int connect_attach(void) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    /* Relative: the directory can be deeper than a socket address may be long. */
    strcpy(addr.sun_path, "attach");
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        fprintf(stderr, "stream-relay: cannot connect to the attach socket: %s\n", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int connect_loopback(int family, const char *address, int port) {
    struct sockaddr_storage storage = {0};
    socklen_t size;
    if (family == AF_INET) {
        struct sockaddr_in *in4 = (struct sockaddr_in *)&storage;
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, address, &in4->sin_addr);
        size = sizeof *in4;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&storage;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, address, &in6->sin6_addr);
        size = sizeof *in6;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&storage, size) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static int connect_tcp(const char *port_text, const char *netns) {
    char *end;
    long port = strtol(port_text, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535) {
        fprintf(stderr, "stream-relay: bad port %s\n", port_text);
        return -1;
    }
    if (netns != NULL) {
        int ns = open(netns, O_RDONLY | O_CLOEXEC);
        if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
            fprintf(stderr, "stream-relay: cannot enter network namespace %s: %s\n", netns, strerror(errno));
            return -1;
        }
        close(ns);
    }
    int fd = connect_loopback(AF_INET, "127.0.0.1", (int)port);
    if (fd >= 0) return fd;
    int first = errno;
    fd = connect_loopback(AF_INET6, "::1", (int)port);
    if (fd >= 0) return fd;
    fprintf(stderr, "stream-relay: cannot connect to port %ld on 127.0.0.1 (%s) or ::1 (%s)\n", port, strerror(first), strerror(errno));
    return -1;
}

static void read_stdin(void) {
    size_t room = r.framed ? ATTACH_INPUT_MAX : BUF_SIZE;
    ssize_t n = read(STDIN_FILENO, r.in, room);
    if (n > 0) {
        r.in_len = (size_t)n;
        r.in_off = 0;
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        r.in_eof = 1;
    }
}

static void write_socket(void) {
    ssize_t n = send(r.sock, r.in + r.in_off, r.in_len - r.in_off, MSG_NOSIGNAL);
    if (n >= 0) {
        r.in_off += (size_t)n;
        if (r.in_off == r.in_len) r.in_len = 0;
    } else if (errno != EAGAIN && errno != EINTR) {
        /* The other side takes no more input: drop what is left and read no more stdin. */
        r.in_len = 0;
        r.in_eof = 1;
        r.write_shut = 1;
    }
}

static int read_socket(void) {
    ssize_t n;
    if (r.framed) {
        /* conmon's pipe byte lands at out[4], right before the payload at out[5]. */
        n = recv(r.sock, r.out + FRAME_HEADER - 1, BUF_SIZE + 1, 0);
        if (n > 1) put_frame_header(r.out, (unsigned char)r.out[FRAME_HEADER - 1], (uint32_t)(n - 1));
        r.out_len = n > 1 ? (size_t)n + FRAME_HEADER - 1 : 0;
    } else {
        n = recv(r.sock, r.out, BUF_SIZE, 0);
        r.out_len = n > 0 ? (size_t)n : 0;
    }
    r.out_off = 0;
    if (n == 0) r.sock_eof = 1;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return fail("reading the socket");
    return EXIT_OK;
}

static int write_stdout(void) {
    ssize_t n = write(STDOUT_FILENO, r.out + r.out_off, r.out_len - r.out_off);
    if (n < 0) return errno == EAGAIN || errno == EINTR ? EXIT_OK : fail("writing stdout");
    r.out_off += (size_t)n;
    if (r.out_off == r.out_len) r.out_len = 0;
    return EXIT_OK;
}

static int relay(void) {
    for (;;) {
        if (r.sock_eof && r.out_len == 0) return EXIT_OK;
        if (r.in_eof && r.in_len == 0 && !r.write_shut) {
            shutdown(r.sock, SHUT_WR);
            r.write_shut = 1;
        }
        short stdin_events = r.has_stdin && !r.in_eof && r.in_len == 0 ? POLLIN : 0;
        short stdout_events = r.out_len > 0 ? POLLOUT : 0;
        short sock_events = (!r.sock_eof && r.out_len == 0 ? POLLIN : 0) | (r.in_len > 0 ? POLLOUT : 0);
        /* A descriptor with nothing asked of it is left out, so its hangup cannot spin the loop. */
        struct pollfd fds[3] = {
            {stdin_events ? STDIN_FILENO : -1, stdin_events, 0},
            {stdout_events ? STDOUT_FILENO : -1, stdout_events, 0},
            {sock_events ? r.sock : -1, sock_events, 0},
        };
        if (poll(fds, 3, -1) < 0) {
            if (errno == EINTR) continue;
            return fail("poll");
        }
        if (fds[0].revents) read_stdin();
        if (fds[2].revents && r.in_len > 0) write_socket();
        if (fds[2].revents && r.out_len == 0 && !r.sock_eof && read_socket() != EXIT_OK) return EXIT_FAILED;
        if (fds[1].revents && write_stdout() != EXIT_OK) return EXIT_FAILED;
    }
}

static int usage(void) {
    fprintf(stderr, "usage: stream-relay attach [-n] | stream-relay tcp PORT [NETNS]\n");
    return EXIT_FAILED;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "attach") == 0 && argc <= 3) {
        if (argc == 3 && strcmp(argv[2], "-n") != 0) return usage();
        r.framed = 1;
        r.has_stdin = argc == 2;
        r.sock = connect_attach();
    } else if (argc >= 3 && strcmp(argv[1], "tcp") == 0 && argc <= 4) {
        r.has_stdin = 1;
        r.sock = connect_tcp(argv[2], argc == 4 ? argv[3] : NULL);
    } else {
        return usage();
    }
    if (r.sock < 0) return EXIT_NO_CONNECTION;
    if (r.framed) {
        put_frame_header(r.out, 0, 0);
        r.out_len = FRAME_HEADER;
    }
    int fds[] = {STDIN_FILENO, STDOUT_FILENO, r.sock};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    return relay();
}
