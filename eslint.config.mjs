import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// Project boundaries: libraries never import apps; stage code never reaches the
// Kubernetes client; executors (runtime, k8s) never import a concrete stage.
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
          depConstraints: [
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', 'type:stage', 'type:testing'] },
            // Stages never reach an executor (nor, through it, the Kubernetes client): executors import the stage contract only.
            { sourceTag: 'type:stage', onlyDependOnLibsWithTags: ['type:lib'], notDependOnLibsWithTags: ['scope:executor'], bannedExternalImports: ['@kubernetes/client-node'] },
            { sourceTag: 'scope:executor', notDependOnLibsWithTags: ['type:stage'] },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:lib', 'type:testing'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib', 'type:stage', 'type:testing'] }
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
          allow: ['@finevideo/core', '@finevideo/storage', '@finevideo/media', '@finevideo/runtime', '@finevideo/llm', '@finevideo/dataset', '@finevideo/k8s'],
          depConstraints: [{ sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:lib', 'type:testing'] }],
        },
      ],
    },
  },
  {
    files: ['**/test/**/*.ts', 'tools/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off' }
  }
];
