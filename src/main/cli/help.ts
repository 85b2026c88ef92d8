// The help of `segscope` and of each of its commands, printed for `--help` / `-h`. CLI process.
import { CHECKPOINTS_DIR, RUN_FILES } from '../common/runLayout';
import { BACKEND_PREFERENCES } from '../../shared/backends';
import { CAM_METHODS, DEFAULT_CAM_METHOD } from '../../shared/camMethods';
import {
  describeBounds,
  TRAIN_NUMBERS,
  type NumberField,
  type NumberSetting,
} from '../../shared/trainFields';

/** `segscope train`'s numeric flags, with their bounds, from the settings table. */
function numberFlagHelp(): string {
  return (Object.keys(TRAIN_NUMBERS) as NumberSetting[])
    .flatMap((k) => {
      const f: NumberField = TRAIN_NUMBERS[k];
      if (!f.flag) return [];
      const name = `--${f.flag} ${f.whole ? 'N' : 'X'}`;
      return [`  ${name.padEnd(25)}${f.help} (${describeBounds(k)})`];
    })
    .join('\n');
}

/** `segscope --help`: every command and every flag. */
export const HELP = `Segscope: a workbench for semantic segmentation on PASCAL VOC datasets.

Usage:
  segscope                      launch the desktop app; where Electron cannot run, say why and serve the browser UI
  segscope serve [--dataset DIR [--year Y]] [--host 127.0.0.1] [--port N] [--token T]
                                browser UI; prints http://HOST:PORT/?token=...
  segscope info DIR [--year Y] [--json]   classes, splits and counts, labelled count
  segscope check DIR [--year Y] [--json]  label problems and the class pixel histogram
  segscope models [--layers] [--json]     model ids, parameter counts, proposed input sizes, conv layers
  segscope train --dataset DIR [--year Y] [--model ID] [--epochs N] [--batch B] [--input-size S] [--lr X]
                 [--optimizer adam|sgd] [--schedule cos|step|constant] [--seed N]
                 [--split train] [--val-split val | --no-val] [--no-augment]
                 [--backend ${BACKEND_PREFERENCES.join('|')}] [--backbone-weights FILE.h5]
                 [--out RUN_DIR] [--init-from RUN_DIR[:best|last]] [--progress lines|json] [--json]
                 [--engine segscope|torch] [--nproc N] [--python PATH] [--device cpu|cuda] [--amp]
  segscope train --resume RUN_DIR [--epochs N] [--engine torch --nproc N] [--progress lines|json] [--json]
  segscope eval --dataset DIR [--year Y] --run RUN_DIR [--split val] [--checkpoint best|last]
                [--backend B] [--json]
  segscope predict --run RUN_DIR --input IMG|DIR --out DIR [--blend] [--checkpoint best|last]
                   [--backend B] [--json]
  segscope draft --run RUN_DIR --input IMG|DIR --out DIR [--checkpoint best|last] [--backend B] [--json]
                                each image's draft as the editor shows it (refined against the image)
  segscope eval-masks --gt DIR --pred DIR [--dataset DIR [--year Y]] [--json]
                                compare two folders of label PNGs
  segscope cam --run RUN_DIR --image IMG --class NAME|INDEX [--layer NAME]
               [--method ${CAM_METHODS.join('|')}] [--checkpoint best|last] [--backend B]
               --out PNG [--raw] [--json]
                                Grad-CAM of a class as a jet overlay (or with --raw a 16-bit 0..1 map)
  segscope rank --run RUN_DIR [--split S] [--by disagreement|uncertainty|unlabelled]
                [--checkpoint best|last] [--backend B] [--json]
                                drafts a split with the run, then lists the images most in need of review
  segscope export --run RUN_DIR [--checkpoint best|last] --out MODEL.onnx [--json]
                                the checkpoint as an ONNX file (opset 17) with its metadata
  segscope job export RUN_DIR --out DIR [--nproc-per-node N] [--epochs N]
                                a new or cancelled PyTorch run as a cluster job (torchrun run.sh, sbatch example)
  segscope job import DIR --dataset DIR [--year Y]
                                checks the run a job trained and adds it to the dataset's runs
  segscope doctor [--json]      backends, GPU adapters, optional packages, and why each was or was not used

Every command answers --help. --year takes the folder name (VOC2012) or the year (2012).
Exit status: 0 on success, 1 when a command ran but found a failure, 2 for bad usage.
`;

/** Each command's own help. */
export const COMMAND_HELP: Record<string, string> = {
  serve: `Usage: segscope serve [--dataset DIR [--year Y]] [--host 127.0.0.1] [--port N] [--token T]

Serves the browser UI and prints its URL with the token every connection needs.
  --dataset DIR  open this dataset (a VOC root or a VOCdevkit); without it the UI opens on its start screen
  --year Y       the dataset of a VOCdevkit with several years (VOC2012 or 2012)
  --host H       address to bind (127.0.0.1 unless told otherwise)
  --port N       port (0 picks a free one)
  --token T      fix the token instead of a random one`,
  info: `Usage: segscope info DIR [--year Y] [--json]

Classes, splits and their image counts, and how many images are labelled.
  --year Y   the dataset of a VOCdevkit with several years (VOC2012 or 2012)
  --json     print the summary as JSON`,
  check: `Usage: segscope check DIR [--year Y] [--json]

Label problems (unreadable files, sizes that differ from the image, unknown indices) and the class pixel
histogram. Exits 1 when there are problems.
  --year Y   the dataset of a VOCdevkit with several years (VOC2012 or 2012)
  --json     print {root, checked, problems, classes} as JSON: classes holds each class's pixels and images`,
  models: `Usage: segscope models [--layers] [--json]

The models Segscope can train: id, parameters (21 classes), the input side proposed on a CPU and a GPU,
and a description. Read from a catalog; nothing is built.
  --layers   also list each model's conv layers (what segscope cam --layer accepts)
  --json     print [{id, title, params, size_multiple, input_size: {cpu, gpu}, cam_layer, layers}]`,
  train: `Usage: segscope train --dataset DIR [options]
       segscope train --resume RUN_DIR [--epochs N]

Trains a model in an engine process of its own and writes the run folder (${RUN_FILES.config}, ${RUN_FILES.state},
${RUN_FILES.metrics}, ${CHECKPOINTS_DIR}/{last,best}). Ctrl+C stops at the next batch and keeps the last checkpoint.
Settings not given are those the panel proposes for the backend found; train prints which it chose.
  --dataset DIR            the dataset (a VOC root or a VOCdevkit with --year)
  --year Y                 VOC2012 or 2012
  --model ID               see segscope models
${numberFlagHelp()}
  --optimizer adam|sgd     (default adam)
  --schedule cos|step|constant   learning-rate schedule (default cos)
  --split NAME             training split (default train)
  --val-split NAME         validation split (default val)
  --no-val                 no validation: only the last checkpoint is kept
  --no-augment             no scale, flip or HSV augmentation
  --backend B              ${BACKEND_PREFERENCES.join('|')} (default auto)
  --backbone-weights FILE  Keras ImageNet .h5 weights for the encoder
  --out RUN_DIR            where the run goes (default <dataset>/.segscope/runs/<run-id>)
  --resume RUN_DIR         continue a run from its last checkpoint
  --init-from RUN[:best|last]  start from another run's checkpoint (fine-tuning); its model and input
                           size are the default
  --progress lines|json    progress when not on a terminal: a line every 10 steps (default), or one JSON
                           object per step and per epoch on stderr
  --engine segscope|torch  segscope (default): Segscope's own engine; torch: the PyTorch engine
                           (python/segscope_torch) in a Python with torch, DDP across --nproc processes
  --nproc N                PyTorch worker processes on this machine (default 1; gloo on cpu, NCCL on cuda)
  --python PATH            the Python with torch (default: $SEGSCOPE_PYTHON, python3, /usr/bin/python3,
                           python: the first that imports torch)
  --device cpu|cuda        where the PyTorch workers train (default cpu)
  --amp                    mixed precision on cuda
  --json                   print the result as JSON on stdout`,
  eval: `Usage: segscope eval --dataset DIR [--year Y] --run RUN_DIR [--split val] [--checkpoint best|last]
                     [--backend B] [--json]

Evaluates a run's checkpoint on a split at full resolution and writes the run's ${RUN_FILES.eval}.
  --checkpoint best|last   default best, or last for a run without one (it says so)
  --backend B              ${BACKEND_PREFERENCES.join('|')}
  --year Y                 VOC2012 or 2012
  --json                   print the metrics as JSON`,
  predict: `Usage: segscope predict --run RUN_DIR --input IMG|DIR --out DIR [--blend] [--checkpoint best|last]
                        [--backend B] [--json]

Segments an image or a folder of images into palette PNGs.
  --blend                  also write <name>_blend.jpg, the classes over the photo
  --checkpoint best|last   default best, or last for a run without one (it says so)
  --backend B              ${BACKEND_PREFERENCES.join('|')}
  --json                   print {images, written}`,
  draft: `Usage: segscope draft --run RUN_DIR --input IMG|DIR --out DIR [--checkpoint best|last] [--backend B] [--json]

Writes each image's draft exactly as the editor shows it: the run's class probabilities upsampled, snapped
to the image's edges, with tiny islands and thin low-confidence slivers merged away. One 8-bit palette PNG
per image, <name>.png at the image's size, in the run's palette.
  --checkpoint best|last   default best, or last for a run without one (it says so)
  --backend B              auto|tensorflow-gpu|webgpu|tensorflow|wasm|cpu
  --json                   print {run, checkpoint, drafts: [{image, out, width, height, classes, uncertain, ms}]}`,
  'eval-masks': `Usage: segscope eval-masks --gt DIR --pred DIR [--dataset DIR [--year Y]] [--json]

Compares two folders of label PNGs by file name: IoU, precision, recall, F1 and the confusion matrix.
  --dataset DIR   take the class names from this dataset
  --json          print the metrics as JSON`,
  cam: `Usage: segscope cam --run RUN_DIR --image IMG --class NAME|INDEX --out PNG [options]

Grad-CAM of one class as a jet overlay on the image.
  --layer NAME             conv layer (default the model's last encoder conv; see segscope models --layers)
  --method M               ${CAM_METHODS.join('|')} (default ${DEFAULT_CAM_METHOD})
  --checkpoint best|last   default best, or last for a run without one (it says so)
  --backend B              ${BACKEND_PREFERENCES.join('|')}
  --raw                    write the 0..1 map as a 16-bit grayscale PNG instead
  --json                   print {out, layer, method, class, width, height}`,
  rank: `Usage: segscope rank --run RUN_DIR [--split S] [--by disagreement|uncertainty|unlabelled]
                     [--checkpoint best|last] [--backend B] [--json]

Drafts the images of a split that have no cached draft yet with the run's checkpoint, then lists the
images most in need of review first, with their scores.
  --split S                the split to rank (default every image)
  --by ORDER               disagreement (1 - IoU of label and draft, default), uncertainty (mean
                           softmax entropy / ln(classes), 0..1) or unlabelled (unlabelled images first)
  --checkpoint best|last   default best, or last for a run without one
  --backend B              ${BACKEND_PREFERENCES.join('|')}
  --json                   print {run, checkpoint, by, split, images: [...]}`,
  doctor: `Usage: segscope doctor [--json]

Starts an engine as training would and reports each backend (in use, skipped and why, or not tried), the
GPU adapters found (vendor, architecture, description, software or not), the optional packages, and
the PyTorch engine: the first Python that imports torch, its version and devices (CUDA GPUs by name and
memory), under "torch" in the JSON.
  --json   print the diagnosis as JSON`,
  export: `Usage: segscope export --run RUN_DIR [--checkpoint best|last] --out MODEL.onnx [--json]

Writes a run's checkpoint as an ONNX file (opset 17): input [N,S,S,3] normalised as the run's model
expects, output logits [N,S,S,C], with the input size, normalisation, letterbox rule, class names and
colours and the Segscope version in its metadata.
  --checkpoint best|last   default best, or last for a run without one
  --out FILE               where the .onnx file goes
  --json                   print what was written as JSON`,
  job: `Usage: segscope job export RUN_DIR|RUN_DIR/${RUN_FILES.config} --out DIR [--nproc-per-node N] [--epochs N]
       segscope job import DIR --dataset DATASET_DIR [--year Y]

export writes a self-contained job for a cluster: the segscope_torch package, the run folder (its config,
state and last checkpoint, the initial weights), run.sh for torchrun (nodes, workers per node and a c10d
rendezvous endpoint from NNODES, NPROC_PER_NODE, RDZV_ENDPOINT, RDZV_ID and DEVICE in the environment)
taking the dataset folder as its argument, and job.sbatch, a Slurm example. The run is one the PyTorch
engine started that is not done; one past epoch 0 resumes from its last checkpoint.
import checks the run the job trained (ended, epochs 1..N once each, last checkpoint whole, the dataset's
classes) and copies it, with the dataset's path, into the dataset's runs; nothing changes when a check fails.
  --out DIR              the job folder (must not exist, or be empty)
  --nproc-per-node N     run.sh's default workers per node (default 1)
  --epochs N             train the job to N epochs (default the run's own)
  --dataset DIR          the dataset the run is imported into`,
};
