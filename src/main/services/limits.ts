// Size limits that keep one file or one request from exhausting memory or stalling the others. The
// transports derive their frame limits from these. Plain Node, main process.
import { MAX_IMAGE_PIXELS } from '../../shared/imageLimits';

/** Room in a frame for the JSON part of a message next to its typed arrays. */
const FRAME_OVERHEAD = 1024 * 1024;

/**
 * The largest frame a client may send: a `labels:save` of the largest accepted label (one byte per
 * pixel) plus its envelope. Nothing else the contract accepts is larger.
 */
export const MAX_FRAME_BYTES = MAX_IMAGE_PIXELS + FRAME_OVERHEAD;
