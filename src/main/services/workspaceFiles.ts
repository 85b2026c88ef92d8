// The JSON files of a dataset's workspace (`<dataset>/.segscope/*.json`): one schema for each and the
// one reader that parses them, so a damaged file is named with its problem instead of breaking whoever
// reads it, and is never mistaken for an empty one. Plain Node, main process.
import { constants } from 'node:fs';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { classEdit, type WorkspaceFileName, type WorkspaceProblem } from '../../shared/api';
import { ID_PATTERN } from '../common/confine';

/** Ids of images, as review.json and labels.json list them. */
const imageIds = z.array(z.string().regex(ID_PATTERN, 'not an image id'));
/** A class index as classes.json keys it: 0 to 254 in decimal, no leading zeros. */
const classKey = z.string().regex(/^(?:0|[1-9][0-9]?|1[0-9]{2}|2[0-4][0-9]|25[0-4])$/, 'not a class index');
/** A run id as attached-runs.json keys it (the contract's run id). */
const runKey = z.string().regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/, 'not a run id');

/** What each workspace file holds. */
export const WORKSPACE_SCHEMAS = {
  /** Images the user marked reviewed. */
  'review.json': z.object({ version: z.literal(1), done: imageIds }),
  /** The user's renames and recolours, by class index; never written into the labels. */
  'classes.json': z.object({ version: z.literal(1), edits: z.record(classKey, classEdit) }),
  /** Label files Segscope wrote for images that had none; they need no backup. */
  'labels.json': z.object({ version: z.literal(1), created: imageIds }),
  /** Run folders trained elsewhere that the user opened with this dataset, by id. */
  'attached-runs.json': z.object({
    version: z.literal(1),
    runs: z.record(runKey, z.string().min(1).max(4096).refine(isAbsolute, 'not an absolute path')),
  }),
} as const satisfies Record<WorkspaceFileName, z.ZodType>;

/** The parsed content of workspace file F. */
export type WorkspaceContent<F extends WorkspaceFileName> = z.output<(typeof WORKSPACE_SCHEMAS)[F]>;

/** What each file holds when it does not exist yet: a dataset opened for the first time. */
export function emptyContent<F extends WorkspaceFileName>(file: F): WorkspaceContent<F> {
  const empty: { [K in WorkspaceFileName]: WorkspaceContent<K> } = {
    'review.json': { version: 1, done: [] },
    'classes.json': { version: 1, edits: {} },
    'labels.json': { version: 1, created: [] },
    'attached-runs.json': { version: 1, runs: {} },
  };
  return empty[file];
}

/** A workspace file as read: its content (the empty one when it does not exist), or what is wrong. */
export type WorkspaceRead<F extends WorkspaceFileName> =
  { ok: true; value: WorkspaceContent<F> } | { ok: false; problem: WorkspaceProblem };

/** The schema's first few issues, each said as `where: what` (`done: expected array, received number`). */
function describeIssues(error: z.ZodError): string {
  const said = error.issues.slice(0, 3).map((issue) => {
    const where = issue.path.map(String).join('.');
    return where ? `${where}: ${issue.message}` : issue.message;
  });
  const more = error.issues.length - said.length;
  return (said.join('; ') || 'does not match its schema') + (more > 0 ? `; and ${more} more` : '');
}

/** Reads and checks workspace file `file` of the workspace folder `dir`; never throws. */
export async function readWorkspaceFile<F extends WorkspaceFileName>(
  dir: string,
  file: F,
): Promise<WorkspaceRead<F>> {
  const path = join(dir, file);
  const problem = (message: string): WorkspaceRead<F> => ({
    ok: false,
    problem: { file, path, message: `${path}: ${message}` },
  });
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: true, value: emptyContent(file) };
    return problem(`cannot be read (${code ?? (err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return problem(`is not valid JSON, perhaps cut short (${(err as Error).message})`);
  }
  const parsed = WORKSPACE_SCHEMAS[file].safeParse(json);
  if (!parsed.success) return problem(`is not a Segscope ${file} (${describeIssues(parsed.error)})`);
  return { ok: true, value: parsed.data as WorkspaceContent<F> };
}

/**
 * Copies a damaged workspace file to `<dir>/backup/workspace/<file>.<time>.bad` before it is reset, so
 * the user's data in it can still be recovered by hand; resolves to the copy's path.
 */
export async function backUpDamaged(dir: string, file: WorkspaceFileName, now = new Date()): Promise<string> {
  const folder = join(dir, 'backup', 'workspace');
  await mkdir(folder, { recursive: true });
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  const target = join(folder, `${file}.${stamp}.bad`);
  // Exclusive: a backup never replaces an earlier one.
  await copyFile(join(dir, file), target, constants.COPYFILE_EXCL);
  return target;
}
