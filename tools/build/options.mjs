// esbuild options shared by the image bundles (bundle.mjs) and the cached local workers (cache.mjs).
import { dirname, join } from 'node:path';

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
    plugins: [smallerDependencies],
    logLevel: 'warning',
  };
}

/**
 * Two dependencies that made most of every worker's bundle, and of its start-up, without being used
 * by it: zod's 40 translations of its error messages (z.locales; our messages are English, and
 * zod's default English locale is imported on its own), and the YAML parser, which only the launcher
 * calls (config files) but which stayed in every bundle because its package does not say it has no
 * side effects.
 */
const smallerDependencies = {
  name: 'smaller-dependencies',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core|mini)$/.test(args.resolveDir) ? { path: join(args.resolveDir, '..', 'locales', 'en.js'), namespace: 'zod-english-only' } : undefined);
    build.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: dirname(args.path),
    }));
    build.onResolve({ filter: /^yaml$/ }, async (args) => {
      if (args.pluginData?.smallerDependencies) return undefined;
      const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { smallerDependencies: true } });
      return resolved.errors.length ? undefined : { path: resolved.path, sideEffects: false };
    });
  },
};

/**
 * bundleOptions for a folder: dir/bundle.mjs, with what is imported dynamically (the AWS SDK, used
 * only with s3:// storage) in chunks of its own, so a worker on a folder never parses it.
 */
export function splitBundleOptions(root, app, dir) {
  const options = bundleOptions(root, app, join(dir, 'bundle.mjs'));
  delete options.outfile;
  return { ...options, outdir: dir, splitting: true, entryNames: 'bundle', chunkNames: 'chunk-[hash]', outExtension: { '.js': '.mjs' } };
}
