// The viewer's requests: segment an image of the open dataset with one of its runs, and Grad-CAM per
// class and layer, through the engine. Resolves ids to files here, so the engine only sees paths
// inside the dataset. Plain Node, main process.
import type { CamMethod, CamResult, SegmentResult } from '../../shared/api';
import type { CheckpointName, DerivedPlace } from '../../shared/engineProtocol';
import type { TrainJob } from '../../shared/training';
import { WorkbenchError } from '../../shared/errors';
import { sweepLayers } from '../../shared/modelCatalog';
import { RunFolder } from '../common/runFolder';
import { derivedPlace, runFolder } from './runs';
import { assertRealInside } from '../common/confine';
import type { WorkbenchSession } from './session';

export interface ViewRequest {
  runId: string;
  checkpoint?: CheckpointName;
  imageId: string;
}

/** A sweep cell's longer side, in pixels: enough to see where attention sits, small on the wire. */
const SWEEP_SIDE = 160;

export class ViewerService {
  constructor(private readonly session: WorkbenchSession) {}

  private async resolve(req: ViewRequest): Promise<{
    runDir: string;
    checkpoint: CheckpointName;
    image: string;
    job: TrainJob;
    derived: DerivedPlace;
  }> {
    const ds = this.session.dataset;
    const runDir = await runFolder(ds.root, req.runId);
    // An attached run is only read: the engine keeps its ONNX cache in this dataset's workspace.
    const derived = derivedPlace(ds.root, req.runId, runDir);
    const image = ds.imagePath(req.imageId);
    await assertRealInside(ds.root, image);
    const run = new RunFolder(runDir);
    const job = await run.readConfig();
    // Without a choice: the best checkpoint when there is one (a run without validation has only last).
    const has = (name: CheckpointName) => run.hasCheckpoint(name);
    const checkpoint = req.checkpoint ?? ((await has('best')) ? 'best' : 'last');
    if (!(await has(checkpoint))) {
      throw new WorkbenchError('not-found', `${runDir}: has no ${checkpoint} checkpoint yet`);
    }
    return { runDir, checkpoint, image, job, derived };
  }

  async segment(req: ViewRequest): Promise<SegmentResult> {
    const { runDir, checkpoint, image, job, derived } = await this.resolve(req);
    const r = await this.session.training.engine.request({
      type: 'segment',
      runDir,
      checkpoint,
      image,
      derived,
    });
    const total = r.width * r.height;
    return {
      runId: req.runId,
      imageId: req.imageId,
      width: r.width,
      height: r.height,
      labels: r.labels,
      confidence: r.confidence,
      classes: r.classes
        .filter((c) => c.pixels > 0)
        .sort((a, b) => b.pixels - a.pixels)
        .map((c) => ({
          index: c.index,
          name: job.classNames[c.index] ?? `index ${c.index}`,
          pixels: c.pixels,
          share: c.pixels / total,
        })),
    };
  }

  async cam(
    req: ViewRequest & { classIndex: number; layer?: string; method: CamMethod },
  ): Promise<CamResult> {
    const { runDir, checkpoint, image, derived } = await this.resolve(req);
    return this.session.training.engine.request({
      type: 'cam',
      runDir,
      checkpoint,
      derived,
      image,
      classIndex: req.classIndex,
      method: req.method,
      ...(req.layer ? { layer: req.layer } : {}),
    });
  }

  async camSweep(
    req: ViewRequest & { classIndex: number; method: CamMethod },
  ): Promise<{ layers: CamResult[] }> {
    const { runDir, checkpoint, image, job, derived } = await this.resolve(req);
    const engine = this.session.training.engine;
    // The model facts say which of its conv layers the sweep shows (its encoder's, shallow to deep).
    const all = (await engine.request({ type: 'camLayers', runDir, checkpoint, derived })).layers;
    const layers = sweepLayers(job.settings.model, all);
    if (layers.length === 0)
      throw new WorkbenchError('not-found', `${job.settings.model}: no encoder conv layers to sweep`);
    const cams = await engine.request({
      type: 'camSweep',
      runDir,
      checkpoint,
      derived,
      image,
      classIndex: req.classIndex,
      method: req.method,
      layers,
      maxSide: SWEEP_SIDE,
    });
    return { layers: cams };
  }
}
