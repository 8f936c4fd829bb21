// Entry of a model worker thread. Module hooks registered on the main thread do not
// reach worker threads (nor does `--import tsx`), so tsx is registered here, for ESM
// and CommonJS model modules as bin/v2serve.js does, before any TypeScript is imported;
// then, as there, the hooks that give models this server's own v2serve modules.
import { register } from 'tsx/esm/api';
import { register as registerCommonJs } from 'tsx/cjs/api';

registerCommonJs();
register();
// Imported once tsx is registered: from src/ (development) it is TypeScript.
const { registerModelImports } = await import('../model-imports/index.js');
registerModelImports();
// ./worker-thread.js: the built file, or (through tsx) worker-thread.ts when running from src/.
await import('./worker-thread.js');
