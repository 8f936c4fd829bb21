// Model instances in worker threads: the pool on the main thread, the protocol between
// them, and the thread's own side (worker-thread.ts, started through worker-entry.js).
export { WorkerPool, type WorkerPoolOptions } from './worker-pool.js';
