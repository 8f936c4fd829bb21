#!/usr/bin/env node
// Registers tsx so that v2serve and the models it loads (model.ts) run without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
await main(process.argv.slice(2));
