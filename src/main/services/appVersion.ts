// The app's version, taken from package.json at build time. Plain Node, main process.
import pkg from '../../../package.json';

export const appVersion: string = pkg.version;
