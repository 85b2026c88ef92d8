// Lint, including the layer rules of DESIGN.md: imports run one way, and tfjs stays in the engine.
// src/main/common is the plain-Node layer below the engine, the services and the shells: it imports
// only shared, and every one of them may import it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import vue from 'eslint-plugin-vue';

const nodeBuiltins = [
  'node:*',
  'fs',
  'path',
  'os',
  'child_process',
  'crypto',
  'http',
  'url',
  'util',
  'stream',
  'worker_threads',
];
const tfjs = { group: ['@tensorflow/*'], message: 'tfjs is imported only in src/main/engine.' };
const electron = {
  group: ['electron'],
  message: 'electron is imported only in src/main/electron and src/preload.',
};
const node = { group: nodeBuiltins, message: 'this layer must not use Node built-ins.' };
const layer = (pattern, message) => ({ group: [pattern], message });

/** One `no-restricted-imports` block per folder. */
const restrict = (files, patterns) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns }] },
});

export default tseslint.config(
  { ignores: ['out/**', 'node_modules/**', 'test-output/**', 'bench/output/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...vue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    // TypeScript already checks names; no-undef only misfires on DOM and Node globals.
    rules: {
      'no-undef': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
      'vue/html-indent': 'off',
      'vue/html-closing-bracket-newline': 'off',
      'vue/multiline-html-element-content-newline': 'off',
    },
  },
  restrict(
    ['src/shared/**'],
    [
      node,
      electron,
      tfjs,
      layer('**/main/**', 'shared imports nothing of ours'),
      layer('**/renderer/**', 'shared imports nothing of ours'),
      layer('**/preload/**', 'shared imports nothing of ours'),
      layer('vue', 'shared is framework-free'),
      layer('konva', 'shared is framework-free'),
    ],
  ),
  restrict(
    ['src/main/common/**'],
    [
      electron,
      tfjs,
      layer('**/engine/**', 'common imports nothing of ours but shared'),
      layer('**/services/**', 'common imports nothing of ours but shared'),
      layer('**/electron/**', 'common imports nothing of ours but shared'),
      layer('**/server/**', 'common imports nothing of ours but shared'),
      layer('**/cli/**', 'common imports nothing of ours but shared'),
      layer('**/renderer/**', 'common imports nothing of ours but shared'),
      layer('**/preload/**', 'common imports nothing of ours but shared'),
      layer('vue', 'common is plain Node'),
      layer('konva', 'common is plain Node'),
    ],
  ),
  restrict(
    ['src/main/services/**'],
    [
      electron,
      tfjs,
      layer('**/engine/**', 'services talk to the engine by messages, not imports'),
      layer('**/electron/**', 'services are plain Node'),
      layer('**/server/**', 'services do not know the transports'),
      layer('**/cli/**', 'services do not know the CLI'),
      layer('**/renderer/**', 'main never imports the renderer'),
    ],
  ),
  restrict(
    ['src/main/engine/**'],
    [
      electron,
      layer('**/services/**', 'the engine imports only shared and common'),
      layer('**/electron/**', 'the engine imports only shared and common'),
      layer('**/server/**', 'the engine imports only shared and common'),
      layer('**/cli/**', 'the engine imports only shared and common'),
      layer('**/renderer/**', 'main never imports the renderer'),
    ],
  ),
  restrict(
    ['src/main/electron/**', 'src/main/server/**', 'src/main/cli/**'],
    [
      tfjs,
      layer('**/engine/**', 'shells reach the engine through services'),
      layer('**/renderer/**', 'main never imports the renderer'),
    ],
  ),
  restrict(
    ['src/main/server/**', 'src/main/cli/**'],
    [
      electron,
      tfjs,
      layer('**/engine/**', 'shells reach the engine through services'),
      layer('**/electron/**', 'the browser shell and CLI run without Electron'),
      layer('**/renderer/**', 'main never imports the renderer'),
    ],
  ),
  restrict(
    ['src/preload/**'],
    [
      node,
      tfjs,
      layer('**/main/**', 'preload imports shared only'),
      layer('**/renderer/**', 'preload imports shared only'),
    ],
  ),
  restrict(
    ['src/renderer/**'],
    [
      node,
      electron,
      tfjs,
      layer('**/main/**', 'the renderer talks only to WorkbenchApi'),
      layer('**/preload/**', 'the renderer talks only to WorkbenchApi'),
    ],
  ),
);
