// The koffi binding of libc, and of the libuv poll functions the node binary exports: the one place that loads koffi and declares C prototypes.
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Koffi from 'koffi';

/** Memory passed as a C pointer: the bytes of a Buffer or typed array, or null for NULL. */
type Memory = ArrayBufferView | null;
/** A `_Out_ void **` argument: koffi stores the pointer in element 0 (null for NULL). */
type PointerOut = unknown[];

/** The libc functions usock calls, each with the TypeScript signature of its prototype in PROTOTYPES. */
export interface LibcFunctions {
  socket(domain: number, type: number, protocol: number): number;
  socketpair(domain: number, type: number, protocol: number, sv: Int32Array): number;
  bind(fd: number, addr: Memory, len: number): number;
  listen(fd: number, backlog: number): number;
  accept4(fd: number, addr: Memory, len: Uint32Array | null, flags: number): number;
  connect(fd: number, addr: Memory, len: number): number;
  shutdown(fd: number, how: number): number;
  send(fd: number, buf: Memory, len: number, flags: number): number;
  recv(fd: number, buf: Memory, len: number, flags: number): number;
  sendto(fd: number, buf: Memory, len: number, flags: number, addr: Memory, alen: number): number;
  recvfrom(fd: number, buf: Memory, len: number, flags: number, addr: Memory, alen: Uint32Array): number;
  sendmsg(fd: number, msg: Memory, flags: number): number;
  recvmsg(fd: number, msg: Memory, flags: number): number;
  getsockopt(fd: number, level: number, name: number, val: Memory, len: Uint32Array): number;
  setsockopt(fd: number, level: number, name: number, val: Memory, len: number): number;
  getsockname(fd: number, addr: Memory, len: Uint32Array): number;
  getpeername(fd: number, addr: Memory, len: Uint32Array): number;
  close(fd: number): number;
  read(fd: number, buf: Memory, len: number): number;
  write(fd: number, buf: Memory, len: number): number;
  writev(fd: number, iov: Memory, iovcnt: number): number;
  open(path: string, flags: number, mode: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  poll(fds: Memory, n: number, timeout: number): number;
  ioctl(fd: number, req: number, arg: Int32Array): number;
  ioctlBuffer(fd: number, req: number, arg: Memory): number;
  isatty(fd: number): number;
  epoll_create1(flags: number): number;
  epoll_ctl(epfd: number, op: number, fd: number, event: Memory): number;
  setuid(uid: number): number;
  setgid(gid: number): number;
  initgroups(user: string, gid: number): number;
  getpwnam_r(name: string, pwd: Memory, buf: Memory, len: number, result: PointerOut): number;
  getpwuid_r(uid: number, pwd: Memory, buf: Memory, len: number, result: PointerOut): number;
  getgrnam_r(name: string, grp: Memory, buf: Memory, len: number, result: PointerOut): number;
  getgrgid_r(gid: number, grp: Memory, buf: Memory, len: number, result: PointerOut): number;
  getgrouplist(user: string, gid: number, groups: Uint32Array, n: Int32Array): number;
  setpwent(): void;
  getpwent_r(pwd: Memory, buf: Memory, len: number, result: PointerOut): number;
  endpwent(): void;
  lgetxattr(path: Memory, name: string, value: Memory, size: number): number;
  malloc_trim(pad: number): number;
  mallopt(param: number, value: number): number;
  memcpy(dst: Memory, src: Memory, n: number): unknown;
  malloc(size: number): number;
  free(ptr: number): void;
  gettid(): number;
}

export type Libc = LibcFunctions & { koffi: typeof Koffi };

let libc: Libc | undefined;

declare const __KOFFI_VERSION__: string | undefined;

/** The C prototype of each libc function usock calls, declared on its first use. */
const PROTOTYPES: Record<keyof LibcFunctions, string> = {
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
  initgroups: 'int initgroups(const char *user, uint32_t gid)',
  getpwnam_r: 'int getpwnam_r(const char *name, void *pwd, void *buf, size_t len, _Out_ void **result)',
  getpwuid_r: 'int getpwuid_r(uint32_t uid, void *pwd, void *buf, size_t len, _Out_ void **result)',
  getgrnam_r: 'int getgrnam_r(const char *name, void *grp, void *buf, size_t len, _Out_ void **result)',
  getgrgid_r: 'int getgrgid_r(uint32_t gid, void *grp, void *buf, size_t len, _Out_ void **result)',
  getgrouplist: 'int getgrouplist(const char *user, uint32_t gid, _Out_ uint32_t *groups, _Inout_ int *n)',
  setpwent: 'void setpwent(void)',
  getpwent_r: 'int getpwent_r(void *pwd, void *buf, size_t len, _Out_ void **result)',
  endpwent: 'void endpwent(void)',
  lgetxattr: 'intptr_t lgetxattr(const void *path, const char *name, void *value, size_t size)',
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
        const fn = so.func(PROTOTYPES[name]);
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
