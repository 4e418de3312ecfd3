// The modules unit tests import from dist/lib.mjs: address encoding, framing codecs, error mapping, the poll watcher.
export * from './sys/sockaddr';
export * from './io/framing';
export { EXIT, errorLines, exitCodeFor } from './errors';
// Descriptor passing: control-message layout (pure), sendmsg/recvmsg with SCM_RIGHTS, descriptor descriptions, recv-fd's verdict on a message.
export * from './sys/cmsg';
export { receiveMessage, sendWithDescriptors, type ReceivedMessage } from './sys/msg';
export { socketpair, closeQuietly } from './sys/socket';
export { describeDescriptor, openFlagNames, kindOf, type DescriptorInfo } from './fdinfo';
export { assessMessage } from './recvfd';
export { passCredentials } from './net/server';
export { FdWatcher } from './sys/poll';
