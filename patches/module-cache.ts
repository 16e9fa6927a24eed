import { PatchMismatchError } from './patch-mismatch-error';

/**
 * Replaces a library module's exports in Node's module cache before anything loads it, so the
 * library's own modules get the replacement when they require it. `make` gets the original exports
 * (loaded on demand). Throws when the module is missing, is not of the expected shape, or was loaded
 * already (the library would keep the original): a silent half-patched library is worse than none.
 */
export function replaceModule(id: string, shape: 'function' | 'object', make: (original: any) => any): void {
  const library = id.split('/')[0];
  let file: string;
  try {
    file = require.resolve(id);
  } catch {
    throw new PatchMismatchError(library, `module ${id} does not exist`);
  }
  if (require.cache[file])
    throw new PatchMismatchError(
      library,
      `module ${id} was loaded before the patch was installed; load ${library} only through patches/index.ts`,
    );
  const original = require(file);
  if (typeof original !== shape)
    throw new PatchMismatchError(library, `module ${id} exports a ${typeof original}, not a ${shape}`);
  const replacement = make(original);
  const mod = require.cache[file]!;
  mod.exports = replacement;
  if (require(file) !== replacement) throw new PatchMismatchError(library, `the replacement of ${id} is not in effect`);
}
