// Assembles a WebAssembly text file (with SIMD) into its binary with wabt: for the build, and for unit tests running from the sources.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import wabtInit from 'wabt';

/** Returns the binary module of the .wat file at file. Throws with wabt's messages when the text does not assemble or validate. */
export async function assembleWat(file) {
  const wabt = await wabtInit();
  const module = wabt.parseWat(path.basename(file), readFileSync(file, 'utf8'), { simd: true });
  try {
    module.validate();
    return Buffer.from(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}
