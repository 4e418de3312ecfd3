// The pure modules unit tests import from dist/lib.mjs: address encoding, framing codecs, error mapping.
export * from './sys/sockaddr';
export * from './io/framing';
export { EXIT, errorLines, exitCodeFor } from './errors';
