// Entry of a model worker thread. Module hooks registered on the main thread do not
// reach worker threads (nor does `--import tsx`), so tsx is registered here, for ESM
// and CommonJS model modules as bin/v2serve.js does, before any TypeScript is imported.
import { register } from 'tsx/esm/api';
import { register as registerCommonJs } from 'tsx/cjs/api';

registerCommonJs();
register();
// ./worker-thread.js: the built file, or (through tsx) worker-thread.ts when running from src/.
await import('./worker-thread.js');
