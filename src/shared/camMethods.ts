// The one list of class activation map methods: their ids (what requests, the CLI and saved settings
// carry) and the names a person reads. The engine's cam/index.ts maps each id to its class. Plain data,
// runs in any process.

/** Every CAM method by id, with its display name, in the order pickers list them. */
export const CAM_METHOD_NAMES = {
  gradcam: 'Grad-CAM',
  gradcampp: 'Grad-CAM++',
  hirescam: 'HiResCAM',
} as const;

/** A CAM method's id. */
export type CamMethod = keyof typeof CAM_METHOD_NAMES;

/** Every CAM method id, in the list's order. */
export const CAM_METHODS = Object.keys(CAM_METHOD_NAMES) as [CamMethod, ...CamMethod[]];

/** The method used when none is named: the first of the list, plain Grad-CAM. */
export const DEFAULT_CAM_METHOD: CamMethod = CAM_METHODS[0];

/** True when `id` names a CAM method. */
export function isCamMethod(id: string): id is CamMethod {
  return Object.hasOwn(CAM_METHOD_NAMES, id);
}
