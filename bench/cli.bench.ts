// How long the CLI takes to answer: medians of 5 process runs (after one warm-up) of `--help`, `models`,
// `info` and `check` on voc-mini, started the ways a user can start it, against the targets of issue 23
// (--help < 0.3 s; models and info < 0.5 s). Run after `npx electron-vite build`:
//   node bench/run.mjs bench/cli.bench.ts [npx]
// npx also times `npx segscope --help` (npm's own start-up, about 2 s, dominates it).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median, timeRuns } from './stats';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/segscope.mjs', import.meta.url));
const BUNDLE = fileURLToPath(new URL('../out/main/cli.js', import.meta.url));
const VOC_MINI_DEVKIT = fileURLToPath(new URL('../../shared/data/voc-mini/VOCdevkit', import.meta.url));

const CASES: { args: string[]; targetS?: number }[] = [
  { args: ['--help'], targetS: 0.3 },
  { args: ['models'], targetS: 0.5 },
  { args: ['info', VOC_MINI_DEVKIT], targetS: 0.5 },
  { args: ['check', VOC_MINI_DEVKIT] },
];

async function medianSeconds(command: string, args: string[]): Promise<number> {
  const times = await timeRuns(5, () => {
    const r = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0 && !(args.includes('check') && r.status === 1))
      throw new Error(`${command} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  });
  return median(times) / 1000;
}

export async function main(argv: string[]): Promise<void> {
  const node = await medianSeconds(process.execPath, ['-e', '']);
  console.log(`node itself (node -e ''): ${node.toFixed(2)} s`);
  console.log('command                   node bin/segscope.mjs   node out/main/cli.js   target');
  for (const c of CASES) {
    const viaBin = await medianSeconds(process.execPath, [BIN, ...c.args]);
    const viaBundle = await medianSeconds(process.execPath, [BUNDLE, ...c.args]);
    const target =
      c.targetS === undefined ? '-' : `< ${c.targetS} s ${viaBin < c.targetS ? 'met' : 'MISSED'}`;
    const name =
      c.args[0] === '--help' ? '--help' : `${c.args[0]} voc-mini`.replace('models voc-mini', 'models');
    console.log(
      `${name.padEnd(26)}${`${viaBin.toFixed(2)} s`.padEnd(24)}${`${viaBundle.toFixed(2)} s`.padEnd(23)}${target}`,
    );
  }
  if (argv.includes('npx')) {
    const npx = await medianSeconds('npx', ['--no-install', 'segscope', '--help']);
    console.log(`npx segscope --help: ${npx.toFixed(2)} s`);
  }
}
