// Micro-benchmark of id generation (bench/README.md, seventh pass): uuid's own v7(), which asks
// WebCrypto for 16 random bytes per id, against the platform's timeOrderedId() (libs/runtime), which
// fills a pool of 256 ids at a time. 200,000 ids per round, 5 rounds, µs per id.
// Run: node_modules/.bin/node bench/ids.mjs
import { timeOrderedId } from '@roadmap/runtime';
import { v7 } from 'uuid';

const N = 200_000;
const time = (make) => {
  const start = performance.now();
  for (let i = 0; i < N; i++) make();
  return ((performance.now() - start) * 1000) / N;
};
for (let round = 1; round <= 5; round++) {
  console.log(`round ${round}: uuid v7() ${time(v7).toFixed(2)} µs · timeOrderedId() ${time(timeOrderedId).toFixed(2)} µs`);
}
