import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.wrangler/', 'infra/models/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      // Each side logs through its own log module, one JSON object per line.
      'no-console': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['**/log.ts', 'cli/**/*.ts', 'scripts/**/*.ts', 'bin/**', 'test/**/*.ts'],
    rules: { 'no-console': 'off' },
  }
)
