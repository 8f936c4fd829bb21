#!/usr/bin/env node
// Registers tsx (ESM and CommonJS hooks) so that v2serve and the models it loads
// (model.ts) run without a build step.
import 'tsx';

const { main } = await import('../src/main.ts');
await main(process.argv.slice(2));
