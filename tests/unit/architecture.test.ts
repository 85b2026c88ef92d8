// Keeps docs/ARCHITECTURE.md true: every folder under src/ has its row in the folder table, every file a
// row names exists in that folder, and every repository path the page names in backticks exists.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', '..');
const DOC = 'docs/ARCHITECTURE.md';

/** Every folder under `src/`, as `src/a/b/`, `src/` itself included. */
function sourceFolders(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    out.push(`${relative(root, dir).split('\\').join('/')}/`);
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
  };
  walk(join(root, 'src'));
  return out.sort();
}

/** What is wrong with `doc` against the tree at `root`: one line per problem, empty when it is true. */
function problems(doc: string, root: string): string[] {
  const found: string[] = [];
  const rows = new Map<string, string>();
  for (const line of doc.split('\n')) {
    const m = /^\|\s*`(src\/(?:[^`]*\/)?)`\s*\|(.*)$/.exec(line);
    if (m) rows.set(m[1]!, m[2]!);
  }
  for (const folder of sourceFolders(root)) {
    if (!rows.has(folder)) found.push(`folder ${folder} is not described`);
  }
  for (const [folder, rest] of rows) {
    if (!existsSync(join(root, folder))) found.push(`described folder ${folder} does not exist`);
    // The last cell names files of that folder by their bare names.
    const files = rest.split('|').at(-2) ?? '';
    for (const [, name] of files.matchAll(/`([^`/]+\.[a-z]+)`/g)) {
      if (!existsSync(join(root, folder, name!)))
        found.push(`described file ${folder}${name} does not exist`);
    }
  }
  // Anywhere on the page, a path into the repository (placeholders such as `<name>.ts` aside).
  for (const [, path] of doc.matchAll(/`((?:src|tests|docs|bench|bin)\/[^`\s<>*…]+)`/g)) {
    if (!existsSync(join(root, path!))) found.push(`named path ${path} does not exist`);
  }
  return [...new Set(found)];
}

describe('docs/ARCHITECTURE.md', () => {
  const doc = readFileSync(join(ROOT, DOC), 'utf8');

  it('describes every folder under src/, and every file it names exists', () => {
    expect(problems(doc, ROOT)).toEqual([]);
  });

  it('would catch a folder left out, a file that is gone and a stale path', () => {
    const withoutCam = doc
      .split('\n')
      .filter((l) => !/^\|\s*`src\/main\/engine\/cam\/`/.test(l))
      .join('\n');
    expect(problems(withoutCam, ROOT)).toContain('folder src/main/engine/cam/ is not described');
    const goneFile = doc.replace('`worker.ts`, `backend.ts`', '`worker.ts`, `engine.ts`');
    expect(problems(goneFile, ROOT)).toContain('described file src/main/engine/engine.ts does not exist');
    const stale = `${doc}\nSee \`src/main/engine/eval.ts\`.\n`;
    expect(problems(stale, ROOT)).toContain('named path src/main/engine/eval.ts does not exist');
  });
});
