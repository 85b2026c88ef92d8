// The size limit on images and labels, shared by the main process (which refuses them before reading)
// and the engine (which decodes training samples itself). Pure.

/**
 * The most pixels an image or label may have: 8192×8192. Larger images are refused with a message
 * before anything is decoded (a PNG header can claim 20000×20000 in a few bytes).
 */
export const MAX_IMAGE_PIXELS = 8192 * 8192;

/** The pixel limit, as said in every refusal. */
export function describePixelLimit(): string {
  return `over the limit of ${MAX_IMAGE_PIXELS.toLocaleString('en-US')} pixels (8192×8192) that Segscope accepts`;
}
