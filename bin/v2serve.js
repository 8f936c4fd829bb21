#!/usr/bin/env node
// Registers tsx (ESM and CommonJS hooks) so that the models v2serve loads run as written
// (model.ts, no build step of theirs), then, after tsx so that they come first, the hooks
// that give a model importing 'v2serve' this server's own modules wherever its repository
// is. Then starts v2serve from its build (npm run build, which npm ci, npm start and npm
// test run first).
import 'tsx';
import { registerModelImports } from '../dist/src/model-imports/index.js';

registerModelImports();
const { main } = await import('../dist/src/main.js');
await main(process.argv.slice(2));
