// Assembles a WebAssembly text file (with SIMD and shared memory) into its binary with wabt: for the build, and for unit tests running from the sources.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import wabtInit from 'wabt';

/** The WebAssembly features simd.wat uses: SIMD, and shared memory (threads). */
const FEATURES = { simd: true, threads: true };

/** Returns the binary module of the .wat file at file. Throws with wabt's messages when the text does not assemble or validate. */
export async function assembleWat(file) {
  const wabt = await wabtInit();
  const module = wabt.parseWat(path.basename(file), readFileSync(file, 'utf8'), FEATURES);
  try {
    // @ts-expect-error wabt's types give validate no argument; libwabt's validate(options) takes the features
    module.validate(FEATURES);
    return Buffer.from(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}
