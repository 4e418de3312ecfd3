// The modules the unit tests that have not moved to the sources yet import from dist/lib.mjs.
export * from './sys/sockaddr';
export * from './io/framing';
export { EXIT, errorLines, exitCodeFor } from './cli/exit';
export * from './sys/cmsg';
export { receiveMessage, sendWithDescriptors, type ReceivedMessage } from './sys/msg';
export { socketpair, closeQuietly, WOULD_BLOCK } from './sys/socket';
export { describeDescriptor, openFlagNames, kindOf, type DescriptorInfo } from './proc/fdinfo';
export { assessMessage } from './commands/recv-fd/run';
export { passCredentials } from './net/credentials';
export { FdWatcher } from './sys/poll';
