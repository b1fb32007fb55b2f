// Lint rules that carry the architecture: no floating promises, no import cycles, and services
// that depend only on core/ and proto/ (never on each other).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import importX from 'eslint-plugin-import-x'

const services = ['./coordinator', './worker', './gateway']
const everythingBut = (...allowed) =>
  ['./core', './proto', './coordinator', './worker', './gateway', './client', './web-dashboard', './scripts', './tests'].filter(
    (p) => !allowed.includes(p),
  )

export default tseslint.config(
  {
    ignores: ['node_modules/**', 'proto/gen/**', '**/dist/**', 'test-artifacts/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      // no-cycle follows imports into other files: it must know how to parse TypeScript.
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
      'import-x/resolver-next': [importX.createNodeResolver({ extensions: ['.ts', '.js'] })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            // core/ is the shared kernel: it depends on nothing of ours but the generated contract.
            { target: './core', from: everythingBut('./core', './proto') },
            ...services.map((svc) => ({
              target: svc,
              from: everythingBut(svc, './core', './proto'),
              message: 'services depend on core/ and proto/ only, never on each other',
            })),
            // The player library ships to browsers: it may use core's wire code, nothing else.
            { target: './client', from: everythingBut('./client', './core') },
            { target: './client', from: './core', except: ['./wire'] },
            // The dashboard sees only the operator API's types.
            { target: './web-dashboard', from: everythingBut('./web-dashboard', './core') },
            { target: './web-dashboard', from: './core', except: ['./api'] },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
)
