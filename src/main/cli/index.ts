// Entry point of the CLI bundle (out/main/cli.js), started by bin/segscope.mjs.
import { main } from './main';

void main(process.argv.slice(2)).then((code) => process.exit(code));
