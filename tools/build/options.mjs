// esbuild options shared by the image bundles (bundle.mjs) and the cached local workers (cache.mjs).
import { join } from 'node:path';

/** Bundles apps/<name>/src/main.ts into one ESM file for Node 22. */
export function bundleOptions(root, app, outfile) {
  return {
    absWorkingDir: root,
    entryPoints: [join(root, app, 'src', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    sourcemap: true,
    tsconfig: join(root, 'tsconfig.base.json'),
    // Native or binary-carrying packages stay external and are installed in the image.
    external: ['@duckdb/node-api', '@duckdb/node-bindings*', '@resvg/resvg-js', 'ffmpeg-static'],
    // A dependency (ajv-formats-draft2019) requires "punycode": the npm package, not Node's deprecated
    // built-in of the same name (which prints a DeprecationWarning on every command).
    alias: { punycode: 'punycode/' },
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'warning',
  };
}
