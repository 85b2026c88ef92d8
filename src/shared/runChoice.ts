// Which run Inspect opens first: the best finished one, not merely the newest (a newer run may be a
// cancelled experiment of a few epochs). Runs in any process; the renderer's viewer store uses it.
import type { RunSummary } from './training';

/** Runs Inspect can show: a checkpoint that learned something (at least one finished epoch), in a run
 * whose files all read (a broken run is listed with its problem, never opened first). */
export function inspectableRuns(runs: readonly RunSummary[]): RunSummary[] {
  return runs.filter((r) => !r.problem && r.state.epoch > 0 && (r.hasBest || r.hasLast));
}

/** True for a run that trained to its end (all its epochs, or until early stopping said so). */
function finished(r: RunSummary): boolean {
  return r.state.status === 'done' || r.state.status === 'stopped-early';
}

/**
 * The run to open first, and a sentence saying why: finished runs before the others, then the best
 * validation mIoU, then the most epochs, then the newest (the order of `runs`, newest first).
 * @returns null when no run is inspectable
 */
export function runToInspect(runs: readonly RunSummary[]): { run: RunSummary; why: string } | null {
  const usable = inspectableRuns(runs);
  const ranked = usable
    .map((run, newest) => ({ run, newest }))
    .sort(
      (a, b) =>
        Number(finished(b.run)) - Number(finished(a.run)) ||
        (b.run.state.bestMiou ?? -1) - (a.run.state.bestMiou ?? -1) ||
        b.run.state.epoch - a.run.state.epoch ||
        a.newest - b.newest,
    );
  const first = ranked[0]?.run;
  if (!first) return null;
  const miou = first.state.bestMiou;
  const what = [
    miou === null ? null : `best mIoU ${miou.toFixed(3)}`,
    `${first.state.epoch} epoch${first.state.epoch === 1 ? '' : 's'}`,
  ]
    .filter(Boolean)
    .join(', ');
  const kind = finished(first)
    ? 'the best finished run'
    : `no run has finished; the best one (${first.state.status})`;
  const of = usable.length === 1 ? 'the only run with a checkpoint' : `${kind} of ${usable.length}`;
  return { run: first, why: `Showing ${first.id}: ${of} (${what}).` };
}
