#!/usr/bin/env node
// Registers tsx (ESM and CommonJS hooks) so that the models v2serve loads run as written
// (model.ts, no build step of theirs), then starts v2serve from its build (npm run build,
// which npm ci, npm start and npm test run first).
import 'tsx';

const { main } = await import('../dist/src/main.js');
await main(process.argv.slice(2));
