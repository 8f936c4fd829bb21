// Triton's system shared memory extension, for every transport: the registered regions, and
// the placement of a request's tensors in them.
export { placementOf, SharedMemoryRegistry, SHM_DIR, usesSharedMemory, type OutputPlacement, type RegionStatus } from './registry.js';
