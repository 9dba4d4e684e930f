import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// Project boundaries: libraries never import apps; stage code never reaches the
// Kubernetes client; executors (runtime, k8s) never import a concrete stage; production code
// (apps, libraries, stages, the demo) never imports test code: libs/testing (type:testing) and the
// test-only packages are for tests and tools. The demo's sample generator and video server live in
// libs/demo (type:demo), which the launcher may import and libs/testing re-exports for tests.
const testOnlyPackages = ['s3rver', 'mocha', 'dockerfile-ast'];
export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '.nx/**', '.cache/**', '.data/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          banTransitiveDependencies: false,
          // The launcher loads @finevideo/k8s on demand (render, the kubernetes executor) and k8s depends on the
          // runtime the launcher imports statically: nx then counts the runtime as lazy-loaded too. It is not.
          checkDynamicDependenciesExceptions: ['@finevideo/runtime', '@finevideo/core'],
          depConstraints: [
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', 'type:stage', 'type:demo'], bannedExternalImports: testOnlyPackages },
            // Stages never reach an executor (nor, through it, the Kubernetes client): executors import the stage contract only.
            { sourceTag: 'type:stage', onlyDependOnLibsWithTags: ['type:lib'], notDependOnLibsWithTags: ['scope:executor'], bannedExternalImports: ['@kubernetes/client-node', ...testOnlyPackages] },
            { sourceTag: 'scope:executor', notDependOnLibsWithTags: ['type:stage'] },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'], bannedExternalImports: testOnlyPackages },
            { sourceTag: 'type:demo', onlyDependOnLibsWithTags: ['type:lib'], bannedExternalImports: testOnlyPackages },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:lib', 'type:testing', 'type:demo'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib', 'type:stage', 'type:testing', 'type:demo'] }
          ]
        }
      ]
    }
  },
  {
    // Library tests import libs/testing, which itself builds on the libraries: that is not a cycle of
    // production code, so the test-only edge is allowed here.
    files: ['libs/testing/src/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: ['@finevideo/core', '@finevideo/storage', '@finevideo/media', '@finevideo/runtime', '@finevideo/llm', '@finevideo/dataset', '@finevideo/k8s', '@finevideo/demo'],
          depConstraints: [{ sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:lib', 'type:testing', 'type:demo'] }],
        },
      ],
    },
  },
  {
    // The same for libs/demo, which libs/testing re-exports: the libraries it builds on are allowed
    // (their tests import libs/testing, a test-only cycle); everything else follows the demo's constraint.
    files: ['libs/demo/src/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: ['@finevideo/core', '@finevideo/storage', '@finevideo/media'],
          depConstraints: [{ sourceTag: 'type:demo', onlyDependOnLibsWithTags: ['type:lib'], bannedExternalImports: testOnlyPackages }],
        },
      ],
    },
  },
  {
    files: ['**/test/**/*.ts', 'tools/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off' }
  }
];
