// The help of `segscope` and of each of its commands, printed for `--help` / `-h`. CLI process.

/** `segscope --help`: every command and every flag. */
export const HELP = `Segscope: a workbench for semantic segmentation on PASCAL VOC datasets.

Usage:
  segscope                      launch the desktop app; where Electron cannot run, say why and serve the browser UI
  segscope serve [--dataset DIR [--year Y]] [--host 127.0.0.1] [--port N] [--token T]
                                browser UI; prints http://HOST:PORT/?token=...
  segscope info DIR [--year Y] [--json]   classes, splits and counts, labelled count
  segscope check DIR [--year Y] [--json]  label problems and the class pixel histogram
  segscope models [--layers] [--json]     model ids, parameter counts, proposed input sizes, conv layers
  segscope train --dataset DIR [--year Y] --model ID [--epochs N] [--batch B] [--input-size S] [--lr X]
                 [--optimizer adam|sgd] [--schedule cos|step|constant] [--seed N]
                 [--split train] [--val-split val | --no-val] [--no-augment]
                 [--backend auto|tensorflow-gpu|webgpu|tensorflow|wasm|cpu] [--backbone-weights FILE.h5]
                 [--out RUN_DIR] [--init-from RUN_DIR[:best|last]] [--progress lines|json] [--json]
  segscope train --resume RUN_DIR [--epochs N] [--progress lines|json] [--json]
  segscope eval --dataset DIR [--year Y] --run RUN_DIR [--split val] [--checkpoint best|last]
                [--backend B] [--json]
  segscope predict --run RUN_DIR --input IMG|DIR --out DIR [--blend] [--checkpoint best|last]
                   [--backend B] [--json]
  segscope eval-masks --gt DIR --pred DIR [--dataset DIR [--year Y]] [--json]
                                compare two folders of label PNGs
  segscope cam --run RUN_DIR --image IMG --class NAME|INDEX [--layer NAME]
               [--method gradcam|gradcampp|hirescam] [--checkpoint best|last] [--backend B]
               --out PNG [--raw] [--json]
                                Grad-CAM of a class as a jet overlay (or with --raw a 16-bit 0..1 map)
  segscope rank --run RUN_DIR [--split S] [--by disagreement|uncertainty|unlabelled]
                [--checkpoint best|last] [--backend B] [--json]
                                drafts a split with the run, then lists the images most in need of review
  segscope export --run RUN_DIR [--checkpoint best|last] --out MODEL.onnx [--json]
                                the checkpoint as an ONNX file (opset 17) with its metadata
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
  train: `Usage: segscope train --dataset DIR --model ID [options]
       segscope train --resume RUN_DIR [--epochs N]

Trains a model in an engine process of its own and writes the run folder (config.json, state.json,
metrics.jsonl, checkpoints/{last,best}). Ctrl+C stops at the next batch and keeps the last checkpoint.
  --dataset DIR            the dataset (a VOC root or a VOCdevkit with --year)
  --year Y                 VOC2012 or 2012
  --model ID               see segscope models
  --epochs N               epochs to train (default 50); with --resume, the total to extend the run to
  --batch B                images per step (default 4)
  --input-size S           side of the square input (default 512; a multiple of the model's size multiple)
  --lr X                   learning rate (default 1e-4)
  --optimizer adam|sgd     (default adam)
  --schedule cos|step|constant   learning-rate schedule (default cos)
  --seed N                 weight initialisation and shuffling seed (default 1)
  --split NAME             training split (default train)
  --val-split NAME         validation split (default val)
  --no-val                 no validation: only the last checkpoint is kept
  --no-augment             no scale, flip or HSV augmentation
  --backend B              auto|tensorflow-gpu|webgpu|tensorflow|wasm|cpu (default auto)
  --backbone-weights FILE  Keras ImageNet .h5 weights for the encoder
  --out RUN_DIR            where the run goes (default <dataset>/.segscope/runs/<run-id>)
  --resume RUN_DIR         continue a run from its last checkpoint
  --init-from RUN[:best|last]  start from another run's checkpoint (fine-tuning); its model and input
                           size are the default
  --progress lines|json    progress when not on a terminal: a line every 10 steps (default), or one JSON
                           object per step and per epoch on stderr
  --json                   print the result as JSON on stdout`,
  eval: `Usage: segscope eval --dataset DIR [--year Y] --run RUN_DIR [--split val] [--checkpoint best|last]
                     [--backend B] [--json]

Evaluates a run's checkpoint on a split at full resolution and writes the run's eval.json.
  --checkpoint best|last   default best, or last for a run without one (it says so)
  --backend B              auto|tensorflow-gpu|webgpu|tensorflow|wasm|cpu
  --year Y                 VOC2012 or 2012
  --json                   print the metrics as JSON`,
  predict: `Usage: segscope predict --run RUN_DIR --input IMG|DIR --out DIR [--blend] [--checkpoint best|last]
                        [--backend B] [--json]

Segments an image or a folder of images into palette PNGs.
  --blend                  also write <name>_blend.jpg, the classes over the photo
  --checkpoint best|last   default best, or last for a run without one (it says so)
  --backend B              auto|tensorflow-gpu|webgpu|tensorflow|wasm|cpu
  --json                   print {images, written}`,
  'eval-masks': `Usage: segscope eval-masks --gt DIR --pred DIR [--dataset DIR [--year Y]] [--json]

Compares two folders of label PNGs by file name: IoU, precision, recall, F1 and the confusion matrix.
  --dataset DIR   take the class names from this dataset
  --json          print the metrics as JSON`,
  cam: `Usage: segscope cam --run RUN_DIR --image IMG --class NAME|INDEX --out PNG [options]

Grad-CAM of one class as a jet overlay on the image.
  --layer NAME             conv layer (default the model's last encoder conv; see segscope models --layers)
  --method M               gradcam|gradcampp|hirescam (default gradcam)
  --checkpoint best|last   default best, or last for a run without one (it says so)
  --backend B              auto|tensorflow-gpu|webgpu|tensorflow|wasm|cpu
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
  --backend B              auto|tensorflow-gpu|webgpu|tensorflow|wasm|cpu
  --json                   print {run, checkpoint, by, split, images: [...]}`,
  doctor: `Usage: segscope doctor [--json]

Starts an engine as training would and reports each backend (in use, skipped and why, or not tried), the
GPU adapters found (vendor, architecture, description, software or not) and the optional packages.
  --json   print the diagnosis as JSON`,
  export: `Usage: segscope export --run RUN_DIR [--checkpoint best|last] --out MODEL.onnx [--json]

Writes a run's checkpoint as an ONNX file (opset 17): input [N,S,S,3] normalised as the run's model
expects, output logits [N,S,S,C], with the input size, normalisation, letterbox rule, class names and
colours and the Segscope version in its metadata.
  --checkpoint best|last   default best, or last for a run without one
  --out FILE               where the .onnx file goes
  --json                   print what was written as JSON`,
};
