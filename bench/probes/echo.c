/* A minimal echo server in C, for telling apart what a server does per message from when its CPU sleeps.
 *
 *   gcc -O2 -o /tmp/echo bench/probes/echo.c
 *   taskset -c 0 /tmp/echo /tmp/e.sock MODE [BUSY] &
 *   taskset -c 1 python3 bench/clients.py rtt /tmp/e.sock 20000 30
 *
 * MODE: read   sleeps in a blocking read(2)
 *       select sleeps in select(2), then reads (as socat)
 *       epoll  sleeps in epoll_wait(2), then reads (as libuv, and so usock)
 *       socat  makes the system calls that `socat UNIX-LISTEN:S,fork PIPE` makes for a message, in its order
 *              (strace): its select(2)s over the socket and a pipe, the bytes through the pipe, and the two
 *              non-blocking recvfrom(2)s on its signal socket pair around each call; like socat's fork
 *              option, a child process per connection
 * BUSY: after each answer, make that many non-blocking recvfrom(2) calls on an idle socket pair before
 *       sleeping again (each about 0.2 us here): work that answers nothing but keeps the CPU awake
 *       (not in the socat mode).
 * One client at a time (socat: any number); it runs until killed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <signal.h>
#include <unistd.h>

enum mode { READ, SELECT, EPOLL, SOCAT };

static int idle[2];
static char junk[520];

/* Makes n non-blocking receives on the idle socket pair: each fails with EAGAIN. */
static void peek(int n) {
  for (int i = 0; i < n; i++) recvfrom(idle[0], junk, 519, MSG_DONTWAIT, NULL, NULL);
}

/* Waits in pselect(2) for conn (or the pipe's read end) to be readable, with writefd watched too when >= 0. */
static void wait_select(int conn, int pipe_in, int writefd) {
  fd_set readable, writable;
  FD_ZERO(&readable);
  FD_SET(conn, &readable);
  FD_SET(pipe_in, &readable);
  FD_ZERO(&writable);
  if (writefd >= 0) FD_SET(writefd, &writable);
  int top = conn > pipe_in ? conn : pipe_in;
  if (writefd > top) top = writefd;
  pselect(top + 1, &readable, &writable, NULL, NULL, NULL);
}

/* Echoes conn's messages the way socat's child does, through its own pipe; returns at end of file or an error. */
static void echo_like_socat(int conn, char *buf, size_t size) {
  int p[2];
  if (pipe(p) < 0) return;
  for (;;) {
    wait_select(conn, p[0], -1);
    peek(2); /* socat's two peeks at its signal socket pair around each call */
    ssize_t n = read(conn, buf, size);
    if (n <= 0) break;
    peek(2);
    if (write(p[1], buf, n) != n) break;
    peek(2);
    wait_select(conn, p[0], p[1]);
    peek(2);
    n = read(p[0], buf, size);
    peek(2);
    if (n <= 0 || write(conn, buf, n) != n) break;
    peek(2);
    wait_select(conn, p[0], conn);
    peek(2);
  }
  close(p[0]);
  close(p[1]);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s SOCKET read|select|epoll|socat [BUSY]\n", argv[0]);
    return 64;
  }
  static const char *const names[] = {"read", "select", "epoll", "socat"};
  enum mode mode = READ;
  while (mode <= SOCAT && strcmp(argv[2], names[mode])) mode++;
  if (mode > SOCAT) return fprintf(stderr, "unknown mode %s\n", argv[2]), 64;
  int busy = argc > 3 ? atoi(argv[3]) : 0;
  signal(SIGCHLD, SIG_IGN); /* children of the socat mode are reaped by the kernel */
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, idle) < 0) return perror("socketpair"), 71;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof addr.sun_path) return fprintf(stderr, "socket path too long\n"), 64;
  strcpy(addr.sun_path, argv[1]);
  unlink(argv[1]);
  int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 8) < 0) return perror("bind"), 73;
  char buf[65536];
  for (;;) {
    int conn = accept(listener, NULL, NULL);
    if (conn < 0) return perror("accept"), 71;
    if (mode == SOCAT) {
      if (fork() == 0) {
        close(listener);
        echo_like_socat(conn, buf, sizeof buf);
        _exit(0);
      }
      close(conn);
      continue;
    }
    int ep = -1;
    if (mode == EPOLL) {
      struct epoll_event ev = {.events = EPOLLIN, .data.fd = conn};
      ep = epoll_create1(0);
      epoll_ctl(ep, EPOLL_CTL_ADD, conn, &ev);
    }
    for (;;) {
      if (ep >= 0) {
        struct epoll_event ev;
        epoll_wait(ep, &ev, 1, -1);
      } else if (mode == SELECT) {
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(conn, &readable);
        select(conn + 1, &readable, NULL, NULL, NULL);
      }
      ssize_t n = read(conn, buf, sizeof buf);
      if (n <= 0 || write(conn, buf, n) != n) break;
      peek(busy);
    }
    if (ep >= 0) close(ep);
    close(conn);
  }
}
