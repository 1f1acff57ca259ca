export { type ContentRange, parseContentRange } from './content-range.js';
export * from './web-seed-limits.js';
export { isLoopbackUrl, webSeedFileUrls, webSeedUrlProblem } from './web-seed-url.js';
