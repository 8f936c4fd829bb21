// The V8 garbage-collector settings the server sets for itself at start-up, unless node was
// started with its own.
//
// How far the old generation grows past what a full collection left alive. V8 starts a full
// collection once the old generation plus the external memory allocated since the last one
// (every ArrayBuffer counts) reaches a limit, but it sets that limit from the old
// generation's own allocation rate, which leaves ArrayBuffers out. A 4 MiB gRPC call
// allocates about 16 MiB of them (socket reads, grpc-js's copy of the request into one
// Buffer, its frame of the answer); scavenges free them, one every 32 MiB. Once a full
// collection sets the limit at V8's smallest growth (the memory reducer does, after about
// 8 s idle; so does a lull in start-up), the next call crosses it before a scavenge comes,
// and that collection, finding little promoted, sets the smallest growth again: a full
// collection per call, 3× the CPU, until the process ends. Growing by V8's largest factor
// each time (4×, its default ceiling on a machine with enough memory) leaves the scavenges
// room to come first.
//
// Allocation-site pretenuring. V8 allocates the objects of a literal straight in the old
// generation once most of them survived a scavenge. A request's objects that happen to be in
// flight at a scavenge look long-lived to it; under the dynamic batcher it pretenured some,
// and an old object, dead or not, keeps the young objects it points to alive until the next
// full collection: every request's objects were then copied and promoted (2.5 MB per
// scavenge, pauses from 2 to 15 ms, 40% more CPU per request on Iris). A server's objects
// live as long as a request: none is worth pretenuring.
const HEAP_GROWING = { flag: '--heap-growing-percent=300', given: /^--heap[-_]growing[-_]percent(=|$)/ };
const PRETENURING = { flag: '--no-allocation-site-pretenuring', given: /^--(no[-_])?allocation[-_]site[-_]pretenuring$/ };

/** The V8 flags the server sets for itself: those node was not started with a setting of its own for. */
export function serverGcFlags(execArgv: readonly string[]): string[] {
  return [HEAP_GROWING, PRETENURING].filter(({ given }) => !execArgv.some((arg) => given.test(arg))).map(({ flag }) => flag);
}
