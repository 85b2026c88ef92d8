// The CLI's help and the `models` listing: every command answers --help, the overview names every flag
// the README documents, `models` reads the catalog with its columns lined up, and `train --resume`
// refuses what it cannot do in words. CLI process, no engine.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { COMMAND_HELP, HELP } from '../../../../src/main/cli/help';
import { main } from '../../../../src/main/cli/main';
import { MODEL_CATALOG } from '../../../../src/shared/modelCatalog';
import { captureConsole } from '../../../helpers/console';
import { tempDir, VOC_MINI } from '../../../helpers/data';
import { vocMiniJob } from '../../../helpers/runs';

afterEach(() => vi.restoreAllMocks());

const COMMANDS = [
  'serve',
  'info',
  'check',
  'models',
  'train',
  'eval',
  'predict',
  'draft',
  'eval-masks',
  'cam',
  'rank',
  'export',
  'doctor',
];

/** DESIGN.md's commands: the overview names each, and each answers --help with its own usage. */

describe('segscope help', () => {
  it('names every command in the overview', async () => {
    const { out } = captureConsole();
    expect(await main(['--help'])).toBe(0);
    for (const cmd of COMMANDS) expect(out.join('\n')).toContain(`segscope ${cmd}`);
  });

  it('answers --help and -h for every command with its own usage', async () => {
    for (const cmd of COMMANDS) {
      for (const flag of ['--help', '-h']) {
        const { out } = captureConsole();
        expect(await main([cmd, flag])).toBe(0);
        expect(out.join('\n')).toMatch(new RegExp(`^Usage: segscope ${cmd}`));
        vi.restoreAllMocks();
      }
    }
  });

  it('lists in segscope --help every flag the README documents', async () => {
    const readme = readFileSync(join(__dirname, '../../../../README.md'), 'utf8');
    // Segscope's flags: those of the Command line section and of every `segscope …` span elsewhere.
    // Other programs' flags that the README quotes (electron-builder's, Chromium's) are not its.
    const start = readme.indexOf('\n## Command line');
    const end = readme.indexOf('\n## ', start + 1);
    const documented = [readme.slice(start, end), ...(readme.match(/`segscope [^`]*`/g) ?? [])].join('\n');
    const flags = [...new Set(documented.match(/--[a-z][a-z-]*/g))];
    expect(flags).toContain('--backbone-weights');
    const { out } = captureConsole();
    expect(await main(['--help'])).toBe(0);
    const help = out.join('\n');
    expect(flags.filter((f) => !new RegExp(`${f}\\b`).test(help))).toEqual([]);
  });
});

describe('segscope models', () => {
  it('lists every model from the catalog in columns that line up', async () => {
    const { out } = captureConsole();
    expect(await main(['models'])).toBe(0);
    const lines = out.join('\n').split('\n');
    expect(lines).toHaveLength(MODEL_CATALOG.length + 1);
    // The params column ends at the same place on every row, and so does the size column.
    const ends = (re: RegExp) =>
      new Set(lines.slice(1).map((l) => re.exec(l)!.index + re.exec(l)![0].length));
    expect(ends(/\d+\.\d\dM/).size).toBe(1);
    expect(ends(/\d+\/\d+/).size).toBe(1);
    expect(lines.find((l) => l.startsWith('unet-small '))).toContain('0.49M');
  });

  it('prints the catalog with --json', async () => {
    const { out } = captureConsole();
    expect(await main(['models', '--json'])).toBe(0);
    const rows = JSON.parse(out.join('\n')) as { id: string; params: number; layers: string[] }[];
    expect(rows.find((r) => r.id === 'unet-vgg16')).toMatchObject({ params: 24_892_437 });
    expect(rows.find((r) => r.id === 'unet-vgg16')!.layers).toContain('block5_conv3');
  });
});

describe('segscope train --resume', () => {
  function run(epochsDone: number, epochs: number): string {
    const job = vocMiniJob({ epochs });
    mkdirSync(job.runDir, { recursive: true });
    writeFileSync(join(job.runDir, 'config.json'), JSON.stringify(job));
    writeFileSync(join(job.runDir, 'state.json'), JSON.stringify({ status: 'done', epoch: epochsDone }));
    return job.runDir;
  }

  it('refuses an --epochs that adds none, a finished run without --epochs, and changed settings', async () => {
    const { err } = captureConsole();
    const dir = run(3, 3);
    expect(await main(['train', '--resume', dir, '--epochs', '2'])).toBe(2);
    expect(err.join('\n')).toContain(`${dir}: has already trained 3 epochs; --epochs 2 would add none`);
    expect(await main(['train', '--resume', dir])).toBe(2);
    expect(err.join('\n')).toContain('has trained all its 3 epochs; add --epochs N to extend it');
    expect(await main(['train', '--resume', dir, '--lr', '0.1', '--epochs', '5'])).toBe(2);
    expect(err.join('\n')).toContain('only --epochs may change (drop --lr)');
    expect(await main(['train', '--resume', join(tempDir(), 'nope')])).toBe(2);
    expect(err.join('\n')).toContain('not a Segscope run');
  });
});

describe('help agrees with the commands', () => {
  /** The flags a help text names, `--help` aside. */
  const flagsIn = (text: string) =>
    new Set(
      [...text.replace(/see segscope \w+ --[a-z-]+|segscope cam --layer/g, '').matchAll(/--[a-z][a-z-]*/g)]
        .map((m) => m[0])
        .filter((f) => f !== '--help'),
    );

  it('names in each usage line every flag its help describes (unless the line says [options])', () => {
    for (const [cmd, text] of Object.entries(COMMAND_HELP)) {
      const blank = text.indexOf('\n\n');
      const usageLines = text.slice(0, blank);
      if (usageLines.includes('[options]')) continue;
      const missing = [...flagsIn(text.slice(blank))].filter((f) => !flagsIn(usageLines).has(f));
      expect({ cmd, missing }).toEqual({ cmd, missing: [] });
    }
  });

  it('names in the overview every flag of each command', () => {
    for (const [cmd, text] of Object.entries(COMMAND_HELP)) {
      const overview = HELP.split(/\n(?= {2}segscope )|\n\n/)
        .filter((entry) => entry.startsWith(`  segscope ${cmd} `))
        .join('\n');
      const missing = [...flagsIn(text)].filter((f) => !flagsIn(overview).has(f));
      expect({ cmd, missing }).toEqual({ cmd, missing: [] });
    }
  });

  it('promises the keys that check --json prints', async () => {
    const promised = /print \{([^}]*)\} as JSON/.exec(COMMAND_HELP.check!)![1]!.split(/,\s*/);
    const { out } = captureConsole();
    await main(['check', VOC_MINI, '--json']);
    expect(Object.keys(JSON.parse(out.join('\n')) as object).sort()).toEqual(promised.sort());
  });
});
