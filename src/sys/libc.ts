// The koffi binding of libc, and of the libuv poll functions the node binary exports: the one place that loads koffi and declares C prototypes.
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Koffi from 'koffi';

type Fn = (...args: any[]) => any;

export interface Libc {
  koffi: typeof Koffi;
  socket: Fn; socketpair: Fn; bind: Fn; listen: Fn; accept4: Fn; connect: Fn; shutdown: Fn;
  send: Fn; recv: Fn; sendto: Fn; recvfrom: Fn; sendmsg: Fn; recvmsg: Fn;
  getsockopt: Fn; setsockopt: Fn; getsockname: Fn; getpeername: Fn;
  close: Fn; read: Fn; write: Fn; writev: Fn; open: Fn; fcntl: Fn; poll: Fn; ioctl: Fn; ioctlBuffer: Fn; isatty: Fn;
  epoll_create1: Fn; epoll_ctl: Fn;
  setuid: Fn; setgid: Fn; setgroups: Fn; initgroups: Fn;
  malloc_trim: Fn; mallopt: Fn; memcpy: Fn; malloc: Fn; free: Fn; gettid: Fn;
}

let libc: Libc | undefined;

declare const __KOFFI_VERSION__: string | undefined;

/** The C prototype of each libc function usock calls, declared on its first use. */
const PROTOTYPES: Record<Exclude<keyof Libc, 'koffi'>, string> = {
  socket: 'int socket(int domain, int type, int protocol)',
  socketpair: 'int socketpair(int domain, int type, int protocol, _Out_ int *sv)',
  bind: 'int bind(int fd, const void *addr, uint32_t len)',
  listen: 'int listen(int fd, int backlog)',
  accept4: 'int accept4(int fd, void *addr, _Inout_ uint32_t *len, int flags)',
  connect: 'int connect(int fd, const void *addr, uint32_t len)',
  shutdown: 'int shutdown(int fd, int how)',
  send: 'intptr_t send(int fd, const void *buf, size_t len, int flags)',
  recv: 'intptr_t recv(int fd, void *buf, size_t len, int flags)',
  sendto: 'intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t alen)',
  recvfrom: 'intptr_t recvfrom(int fd, void *buf, size_t len, int flags, void *addr, _Inout_ uint32_t *alen)',
  sendmsg: 'intptr_t sendmsg(int fd, const void *msg, int flags)',
  recvmsg: 'intptr_t recvmsg(int fd, void *msg, int flags)',
  getsockopt: 'int getsockopt(int fd, int level, int name, void *val, _Inout_ uint32_t *len)',
  setsockopt: 'int setsockopt(int fd, int level, int name, const void *val, uint32_t len)',
  getsockname: 'int getsockname(int fd, void *addr, _Inout_ uint32_t *len)',
  getpeername: 'int getpeername(int fd, void *addr, _Inout_ uint32_t *len)',
  close: 'int close(int fd)',
  read: 'intptr_t read(int fd, void *buf, size_t len)',
  write: 'intptr_t write(int fd, const void *buf, size_t len)',
  writev: 'intptr_t writev(int fd, const void *iov, int iovcnt)',
  open: 'int open(const char *path, int flags, uint32_t mode)',
  fcntl: 'int fcntl(int fd, int cmd, int arg)',
  poll: 'int poll(void *fds, uint64_t n, int timeout)',
  ioctl: 'int ioctl(int fd, unsigned long req, _Out_ int *arg)',
  ioctlBuffer: 'int ioctl(int fd, unsigned long req, void *arg)',
  isatty: 'int isatty(int fd)',
  epoll_create1: 'int epoll_create1(int flags)',
  epoll_ctl: 'int epoll_ctl(int epfd, int op, int fd, void *event)',
  setuid: 'int setuid(uint32_t uid)',
  setgid: 'int setgid(uint32_t gid)',
  setgroups: 'int setgroups(size_t n, const uint32_t *list)',
  initgroups: 'int initgroups(const char *user, uint32_t gid)',
  malloc_trim: 'int malloc_trim(size_t pad)',
  mallopt: 'int mallopt(int param, int value)',
  memcpy: 'void *memcpy(void *dst, const void *src, size_t n)',
  malloc: 'uintptr_t malloc(size_t size)',
  free: 'void free(uintptr_t ptr)',
  gettid: 'int gettid(void)',
};

/**
 * Returns koffi. require('koffi') costs about 4 ms at each start (resolving and compiling three
 * uncached scripts, reading the node binary's ELF header to tell glibc from musl) before it loads
 * the prebuilt koffi.node (under 1 ms). usock needs glibc anyway (libc.so.6), so it loads the glibc
 * build of the koffi.node that the build saw directly: first where npm puts it beside the bundle
 * (dist/../node_modules, without resolving the package: about 0.5 ms), then wherever require
 * finds it; koffi's wrapper only adds deprecated aliases that usock does not use. Any surprise
 * (another koffi version, another layout, musl) falls back to require('koffi').
 */
function loadKoffi(): typeof Koffi {
  // The CommonJS bundle runs with a require of its own (bin/usock's); the sources (tests) make one.
  const req = typeof require === 'function' ? require : createRequire(import.meta.url);
  const expected = typeof __KOFFI_VERSION__ === 'string' ? __KOFFI_VERSION__ : undefined;
  if (expected && process.platform === 'linux') {
    const native = `@koromix/koffi-linux-${process.arch}/linux_${process.arch}/koffi.node`;
    const fits = (m: { version?: unknown; load?: unknown } | undefined) => m?.version === expected && typeof m.load === 'function';
    if (typeof __dirname === 'string') {
      try {
        const module = { exports: {} as { version?: unknown; load?: unknown } };
        process.dlopen(module, path.join(__dirname, '..', 'node_modules', native));
        if (fits(module.exports)) return module.exports as typeof Koffi;
      } catch {
        // not there (a hoisted install) or not loadable: ask require
      }
    }
    try {
      const m = req(native);
      if (fits(m)) return m as typeof Koffi;
    } catch {
      // not there or not loadable: the ordinary way
    }
  }
  return req('koffi') as typeof Koffi;
}

/**
 * Returns the libc functions, loading koffi and libc.so.6 on first use. Each function is declared
 * (its prototype parsed by koffi) when it is first used: a run uses a few of them.
 */
export function lib(): Libc {
  if (libc) return libc;
  const koffi = loadKoffi();
  const so = koffi.load('libc.so.6');
  const bound = { koffi } as Libc;
  for (const name of Object.keys(PROTOTYPES) as Array<keyof typeof PROTOTYPES>) {
    Object.defineProperty(bound, name, {
      configurable: true,
      enumerable: true,
      get() {
        const fn = so.func(PROTOTYPES[name]) as Fn;
        Object.defineProperty(bound, name, { value: fn, enumerable: true });
        return fn;
      },
    });
  }
  libc = bound;
  return libc;
}

/** libuv's poll handle functions, as the running node exports them; handles are addresses (numbers). */
export interface Uv {
  /** uv_handle_size(UV_POLL): the bytes a uv_poll_t takes. */
  pollSize: number;
  /** The pointer types of the callbacks (for koffi.register): (handle, status, events) and (handle). */
  pollCb: unknown;
  closeCb: unknown;
  pollInit: (handle: number, fd: number) => number;
  pollStart: (handle: number, events: number, cb: unknown) => number;
  pollStop: (handle: number) => number;
  close: (handle: number, cb: unknown) => void;
}

/** uv_handle_type's UV_POLL (libuv 1.x: stable across its versions). */
const UV_POLL = 8;
let uvBound: Uv | null | undefined;

/**
 * Returns libuv's poll functions from the node binary itself (dlopen(NULL): node exports libuv for its
 * addons), bound to the default loop: they call JavaScript back with two numbers where koffi.node.poll
 * builds an object for every event. Returns null where they are missing or not what usock expects (a
 * node without those symbols, a libuv whose UV_POLL is not "poll"), and in a worker thread, whose loop
 * is not the default one. Never throws.
 */
export function uv(): Uv | null {
  if (uvBound !== undefined) return uvBound;
  uvBound = null;
  try {
    // The main thread's id is the process id (worker_threads would tell too, but costs 2 ms to load).
    if (lib().gettid() !== process.pid) return null;
    const { koffi } = lib();
    const self = koffi.load(null as unknown as string);
    if (self.func('const char *uv_handle_type_name(int type)')(UV_POLL) !== 'poll') return null;
    const pollSize = Number(self.func('size_t uv_handle_size(int type)')(UV_POLL));
    if (!(pollSize >= 64 && pollSize <= 4096)) return null;
    const loop = self.func('void *uv_default_loop(void)')();
    const pollCb = koffi.pointer(koffi.proto('void usock_uv_poll_cb(uintptr_t handle, int status, int events)'));
    const closeCb = koffi.pointer(koffi.proto('void usock_uv_close_cb(uintptr_t handle)'));
    const init = self.func('int uv_poll_init(void *loop, uintptr_t handle, int fd)');
    uvBound = {
      pollSize,
      pollCb,
      closeCb,
      pollInit: (handle, fd) => init(loop, handle, fd),
      pollStart: self.func('int uv_poll_start(uintptr_t handle, int events, usock_uv_poll_cb *cb)'),
      pollStop: self.func('int uv_poll_stop(uintptr_t handle)'),
      close: self.func('void uv_close(uintptr_t handle, usock_uv_close_cb *cb)'),
    };
  } catch {
    uvBound = null;
  }
  return uvBound;
}

/** Returns errno as the last libc call left it. */
export function errno(): number {
  return lib().koffi.errno();
}
