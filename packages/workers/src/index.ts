export type { PieceSpan } from './hash-job.js';
export { HashPool, type HashPoolOptions, type HashResult } from './hash-pool.js';
