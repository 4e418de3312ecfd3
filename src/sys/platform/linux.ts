// Linux constants for the libc layer: errno values, socket families, types, flags, options, ioctl requests and struct sizes.

// errno(3) values usock tells apart
export const ENOENT = 2;
export const EINTR = 4;
export const EAGAIN = 11;
export const EINVAL = 22;
export const ERANGE = 34;
export const ENODATA = 61;
export const ETIMEDOUT = 110;
export const EINPROGRESS = 115;
export const EDQUOT = 122;

export const AF_UNIX = 1;
export const AF_NETLINK = 16;

/** netlink(7): the sock_diag protocol (sock_diag(7)). */
export const NETLINK_SOCK_DIAG = 4;
// netlink(7) and sock_diag(7) messages (linux/netlink.h, linux/sock_diag.h, linux/unix_diag.h)
export const NLMSG_HDRLEN = 16;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
/** NLM_F_ROOT | NLM_F_MATCH */
export const NLM_F_DUMP = 0x300;
export const SOCK_DIAG_BY_FAMILY = 20;
export const UDIAG_SHOW_NAME = 0x1;
export const UDIAG_SHOW_PEER = 0x4;
export const UNIX_DIAG_NAME = 0;
export const UNIX_DIAG_PEER = 2;
/** struct unix_diag_msg: family, type, state, pad, ino, cookie[2] */
export const UNIX_DIAG_MSG_LEN = 16;
/** struct unix_diag_req: family, protocol, pad, states, ino, show, cookie[2] */
export const UNIX_DIAG_REQ_LEN = 24;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_SEQPACKET = 5;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;

export const SOL_SOCKET = 1;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_PASSCRED = 16;
export const SO_PEERCRED = 17;
export const SO_ACCEPTCONN = 30;
export const SO_PEERSEC = 31;
export const SO_DOMAIN = 39;
export const SO_PEERGROUPS = 59;
/** The flag of a listening socket in /proc/net/unix (__SO_ACCEPTCON, linux/net.h). */
export const SO_ACCEPTCON = 0x10000;

export const SCM_RIGHTS = 1;
export const SCM_CREDENTIALS = 2;

export const MSG_PEEK = 0x2;
export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_CMSG_CLOEXEC = 0x40000000;

export const SHUT_RD = 0;
export const SHUT_WR = 1;

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const O_ASYNC = 0o20000;
export const O_DIRECT = 0o40000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
/** The bit O_SYNC adds to O_DSYNC (O_SYNC = __O_SYNC | O_DSYNC). */
export const O_SYNC_BIT = 0o4000000;
export const O_PATH = 0o10000000;
/** The bit O_TMPFILE adds to O_DIRECTORY (O_TMPFILE = __O_TMPFILE | O_DIRECTORY). */
export const O_TMPFILE_BIT = 0o20000000;

export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_DUPFD_CLOEXEC = 1030;
export const F_SETPIPE_SZ = 1031;
export const FD_CLOEXEC = 1;

export const EPOLL_CLOEXEC = 0o2000000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLLIN = 0x1;

export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
export const POLLRDHUP = 0x2000;

/** ioctl(2) requests: the terminal's window size (struct winsize), the bytes queued to read (SIOCINQ). */
export const TIOCGWINSZ = 0x5413;
export const FIONREAD = 0x541b;

/** sizeof(struct sockaddr_un): sa_family_t (2) + sun_path[108]. */
export const SOCKADDR_UN_SIZE = 110;
export const SUN_PATH_SIZE = 108;
/** Longest filesystem path that fits sun_path with its terminating NUL. */
export const SUN_PATH_MAX = 107;
export const SA_FAMILY_SIZE = 2;

/** struct ucred { pid_t pid; uid_t uid; gid_t gid; } */
export const UCRED_SIZE = 12;
/** The kernel's cap on descriptors in one SCM_RIGHTS message (SCM_MAX_FD). */
export const SCM_MAX_FD = 253;

/** 64-bit layout of struct msghdr, struct iovec and struct cmsghdr. */
export const MSGHDR_SIZE = 56;
export const IOVEC_SIZE = 16;
export const CMSGHDR_SIZE = 16;
export const CMSG_ALIGN = 8;

// mallopt(3) parameters (glibc)
export const M_TRIM_THRESHOLD = -1;
export const M_MMAP_THRESHOLD = -3;
