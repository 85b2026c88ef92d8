// The one connection to main for this page. Only the Pinia stores import it. Renderer.
import type { WorkbenchApi } from '../../shared/api';
import { connectApi } from './transport';

let instance: WorkbenchApi | null = null;

export function api(): WorkbenchApi {
  instance ??= connectApi();
  return instance;
}
