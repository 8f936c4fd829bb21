// The flags of the benches that `npm run bench` runs as their own processes (pipeline,
// generate-stream): --quick for the smoke run, --rounds, --seconds, --concurrency.
import { parseArgs } from 'node:util';

export interface SubBenchSettings {
  readonly rounds: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** --concurrency as given (its meaning and default are the bench's own). */
  readonly concurrency: string | undefined;
}

export function subBenchSettings(): SubBenchSettings {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean' }, rounds: { type: 'string' }, seconds: { type: 'string' }, concurrency: { type: 'string' } },
    strict: true,
  });
  const quick = values.quick === true;
  return {
    rounds: Number(values.rounds ?? (quick ? 1 : 3)),
    seconds: Number(values.seconds ?? (quick ? 0.3 : 3)),
    warmupSeconds: quick ? 0.1 : 1,
    concurrency: values.concurrency,
  };
}
