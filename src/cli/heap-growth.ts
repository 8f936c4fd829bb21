// How far V8 lets the old generation grow past what a full garbage collection left alive.
//
// V8 starts a full collection once the old generation plus the external memory allocated
// since the last one (every ArrayBuffer counts) reaches a limit, but it sets that limit
// from the old generation's own allocation rate, which leaves ArrayBuffers out. A 4 MiB
// gRPC call allocates about 16 MiB of them (socket reads, grpc-js's copy of the request
// into one Buffer, its frame of the answer); scavenges free them, one every 32 MiB. Once a
// full collection sets the limit at V8's smallest growth (the memory reducer does, after
// about 8 s idle; so does a lull in start-up), the next call crosses it before a scavenge
// comes, and that collection, finding little promoted, sets the smallest growth again: a
// full collection per call, 3× the CPU, until the process ends. Growing by V8's largest
// factor each time (4×, its default ceiling on a machine with enough memory) leaves the
// scavenges room to come first.
const HEAP_GROWING_PERCENT = 300;

const GROWING_PERCENT_FLAG = /^--heap[-_]growing[-_]percent(=|$)/;

/** The V8 flag the server sets for itself, or undefined when node was started with a growth of its own. */
export function heapGrowingFlag(execArgv: readonly string[]): string | undefined {
  if (execArgv.some((arg) => GROWING_PERCENT_FLAG.test(arg))) return undefined;
  return `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
}
