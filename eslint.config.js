import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', '.tap/', 'node_modules/', 'data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error', 'warn'] }]
    }
  },
  // The benchmark is a command-line report: printing is its job.
  { files: ['bench/**'], rules: { 'no-console': 'off' } },
  // The client examples are programs for Node that report what they did.
  { files: ['examples/**'], rules: { 'no-console': 'off' }, languageOptions: { globals: { process: 'readonly' } } }
)
