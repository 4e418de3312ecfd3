// The koffi binding of libc: the one place that loads koffi and declares C prototypes.
import { createRequire } from 'node:module';
import type * as Koffi from 'koffi';

type Fn = (...args: any[]) => any;

export interface Libc {
  koffi: typeof Koffi;
  socket: Fn; socketpair: Fn; bind: Fn; listen: Fn; accept4: Fn; connect: Fn; shutdown: Fn;
  send: Fn; recv: Fn; sendto: Fn; recvfrom: Fn; sendmsg: Fn; recvmsg: Fn;
  getsockopt: Fn; setsockopt: Fn; getsockname: Fn; getpeername: Fn;
  close: Fn; read: Fn; write: Fn; open: Fn; fcntl: Fn; poll: Fn; ioctl: Fn; ioctlBuffer: Fn; isatty: Fn;
  epoll_create1: Fn; epoll_ctl: Fn;
  setuid: Fn; setgid: Fn; setgroups: Fn; initgroups: Fn;
}

let libc: Libc | undefined;

declare const __KOFFI_VERSION__: string | undefined;

/**
 * Returns koffi. require('koffi') costs about 4 ms at each start (resolving and compiling three
 * uncached scripts, reading the node binary's ELF header to tell glibc from musl) before it loads
 * the prebuilt koffi.node (under 1 ms). usock needs glibc anyway (libc.so.6), so it loads the glibc
 * build of the koffi.node that the build saw directly; koffi's wrapper only adds deprecated aliases
 * that usock does not use. Any surprise (another koffi version, another layout, musl) falls back
 * to require('koffi').
 */
function loadKoffi(): typeof Koffi {
  const req = createRequire(import.meta.url);
  const expected = typeof __KOFFI_VERSION__ === 'string' ? __KOFFI_VERSION__ : undefined;
  if (expected && process.platform === 'linux') {
    try {
      const native = req(`@koromix/koffi-linux-${process.arch}/linux_${process.arch}/koffi.node`);
      if (native && native.version === expected && typeof native.load === 'function') return native as typeof Koffi;
    } catch {
      // not there or not loadable: the ordinary way
    }
  }
  return req('koffi') as typeof Koffi;
}

/** Returns the bound libc functions, loading koffi and libc.so.6 on first use. */
export function lib(): Libc {
  if (libc) return libc;
  const koffi = loadKoffi();
  const so = koffi.load('libc.so.6');
  const f = (proto: string) => so.func(proto);
  libc = {
    koffi,
    socket: f('int socket(int domain, int type, int protocol)'),
    socketpair: f('int socketpair(int domain, int type, int protocol, _Out_ int *sv)'),
    bind: f('int bind(int fd, const void *addr, uint32_t len)'),
    listen: f('int listen(int fd, int backlog)'),
    accept4: f('int accept4(int fd, void *addr, _Inout_ uint32_t *len, int flags)'),
    connect: f('int connect(int fd, const void *addr, uint32_t len)'),
    shutdown: f('int shutdown(int fd, int how)'),
    send: f('intptr_t send(int fd, const void *buf, size_t len, int flags)'),
    recv: f('intptr_t recv(int fd, void *buf, size_t len, int flags)'),
    sendto: f('intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t alen)'),
    recvfrom: f('intptr_t recvfrom(int fd, void *buf, size_t len, int flags, void *addr, _Inout_ uint32_t *alen)'),
    sendmsg: f('intptr_t sendmsg(int fd, const void *msg, int flags)'),
    recvmsg: f('intptr_t recvmsg(int fd, void *msg, int flags)'),
    getsockopt: f('int getsockopt(int fd, int level, int name, void *val, _Inout_ uint32_t *len)'),
    setsockopt: f('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)'),
    getsockname: f('int getsockname(int fd, void *addr, _Inout_ uint32_t *len)'),
    getpeername: f('int getpeername(int fd, void *addr, _Inout_ uint32_t *len)'),
    close: f('int close(int fd)'),
    read: f('intptr_t read(int fd, void *buf, size_t len)'),
    write: f('intptr_t write(int fd, const void *buf, size_t len)'),
    open: f('int open(const char *path, int flags, uint32_t mode)'),
    fcntl: f('int fcntl(int fd, int cmd, int arg)'),
    poll: f('int poll(void *fds, uint64_t n, int timeout)'),
    ioctl: f('int ioctl(int fd, unsigned long req, _Out_ int *arg)'),
    ioctlBuffer: f('int ioctl(int fd, unsigned long req, void *arg)'),
    isatty: f('int isatty(int fd)'),
    epoll_create1: f('int epoll_create1(int flags)'),
    epoll_ctl: f('int epoll_ctl(int epfd, int op, int fd, void *event)'),
    setuid: f('int setuid(uint32_t uid)'),
    setgid: f('int setgid(uint32_t gid)'),
    setgroups: f('int setgroups(size_t n, const uint32_t *list)'),
    initgroups: f('int initgroups(const char *user, uint32_t gid)'),
  };
  return libc;
}

/** Returns errno as the last libc call left it. */
export function errno(): number {
  return lib().koffi.errno();
}
