// The module hooks of tests/helpers/importLog.mjs (they run on Node's loader thread).
import { appendFileSync } from 'node:fs';

export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (process.env.SEGSCOPE_IMPORT_LOG) appendFileSync(process.env.SEGSCOPE_IMPORT_LOG, `${result.url}\n`);
  return result;
}
