// One linter for the whole repository: typescript-eslint's type-aware strict rules,
// plus the rules that keep every service in the template's shape (docs/architecture.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Libraries that do I/O or carry a framework: never in a pure domain. */
const FRAMEWORK_IMPORTS = [
  '@grpc/*',
  '@nats-io/*',
  '@opentelemetry/*',
  'typeorm',
  'typeorm/*',
  'pg',
  'pg-copy-streams',
  'pino',
  'prom-client',
  'jose',
  'node:fs',
  'node:fs/*',
  'node:net',
  'node:http',
  'node:http2',
  'node:child_process',
  // The kit itself is restricted by exact path below; of its subpaths only
  // the pure one (transition tables) is what a domain may import.
  '@paycore/platform/*',
  '!@paycore/platform/domain',
  '@paycore/proto/*',
];

/**
 * A disable comment for the function-length limit must say why, after `--`:
 * a long function is sometimes right (a table of handlers, a linear script),
 * and the reason is what a reviewer reads.
 */
const paycorePlugin = {
  rules: {
    'disable-needs-reason': {
      meta: {
        type: 'suggestion',
        schema: [],
        messages: { reason: 'say why after "--" when disabling {{rule}}' },
      },
      create(context) {
        return {
          Program() {
            for (const comment of context.sourceCode.getAllComments()) {
              const text = comment.value.trim();
              if (!/^eslint-disable/.test(text)) continue;
              if (!text.includes('max-lines-per-function')) continue;
              const reason = text.split('--')[1]?.trim() ?? '';
              if (reason.length < 8) {
                context.report({
                  loc: comment.loc,
                  messageId: 'reason',
                  data: { rule: 'max-lines-per-function' },
                });
              }
            }
          },
        };
      },
    },
  },
};

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      'packages/proto/src/gen/**',
      'packages/client/src/generated/**',
      'packages/client/build/**',
      'packages/cli/bin/**',
      'examples/**',
      '.run/**',
      '**/dist/**',
      'eslint.config.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    plugins: { paycore: paycorePlugin },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-confusing-void-expression': 'off',
      '@typescript-eslint/no-invalid-void-type': 'off',
      'paycore/disable-needs-reason': 'error',
    },
  },
  {
    // Production code: a function over 70 lines needs a reason in its disable comment.
    files: ['packages/*/src/**/*.ts', 'services/*/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 70, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    // domain/ is pure: no framework, no I/O, no adapters, no use cases.
    files: ['services/*/src/domain/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@paycore/platform',
              message: 'domain/ is pure: no framework or I/O (use @paycore/platform/domain)',
            },
          ],
          patterns: [
            {
              // '@paycore/platform' itself is restricted by name (paths, above): its pure part,
              // '@paycore/platform/domain', is the one entry of the kit a domain may use.
              group: FRAMEWORK_IMPORTS.filter((name) => name !== '@paycore/platform'),
              message: 'domain/ is pure: no framework or I/O (use @paycore/platform/domain)',
            },
            {
              // The service kit, except its pure part (a gitignore group cannot re-include a sub-path).
              regex: '^@paycore/platform(?!/domain$)(/.*)?$',
              message: 'domain/ is pure: no framework or I/O (use @paycore/platform/domain)',
            },
            {
              group: ['**/adapters/**', '**/application/**'],
              message: 'domain/ imports neither adapters nor application',
            },
          ],
        },
      ],
    },
  },
  {
    // application/ orchestrates over ports: it never reaches into adapters or a driver.
    files: ['services/*/src/application/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/adapters/**'], message: 'application/ declares ports; adapters implement them' },
            {
              group: ['typeorm', 'typeorm/*', 'pg'],
              message: 'application/ holds no SQL: put it in adapters/pg',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/test/**/*.ts', '**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
