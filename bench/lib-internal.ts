/** What benchmarks use from gatewise, including the raw addon for ceilings. */
export * from '../lib';
export { native } from '../lib/native';
