// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/** Deciders, projections and pure domain rules must not do I/O or read the clock. */
const purity = {
  files: [
    'src/commands/**/*.decider.ts',
    'src/commands/**/*.rules.ts',
    'src/projections/**/*.projection.ts',
  ],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          { group: ['node:*'], message: 'Pure domain code does no I/O.' },
          {
            group: [
              'fastify',
              'better-sqlite3',
              'nats',
              'redis',
              'mongodb',
              '@eventstore/*',
              'pino',
              '**/sqlite/**',
              '**/memory/**',
              '**/nats/**',
              '**/esdb/**',
              '**/mongo/**',
              '**/redis/**',
            ],
            message: 'Pure domain code imports no drivers or adapters.',
          },
        ],
      },
    ],
    'no-restricted-syntax': [
      'error',
      { selector: 'AwaitExpression', message: 'Pure domain code does not await.' },
      { selector: 'FunctionDeclaration[async=true]', message: 'Pure domain code is synchronous.' },
      {
        selector: 'ArrowFunctionExpression[async=true]',
        message: 'Pure domain code is synchronous.',
      },
      {
        selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
        message: 'Time arrives in metadata, never from the clock.',
      },
      {
        selector: "NewExpression[callee.name='Date'][arguments.length=0]",
        message: 'Time arrives in metadata, never from the clock.',
      },
      {
        selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
        message: 'Pure domain code is deterministic.',
      },
    ],
  },
};

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      // Fastify plugins and handlers are async by contract, with or without an await inside.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  purity,
  prettier,
);
