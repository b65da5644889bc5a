import { readFile, writeFile } from 'node:fs/promises';
import { OPENAPI_FILE, renderOpenApiDocument, SERVED_OPENAPI_FILE } from './document.js';

/*
 * `npm run openapi`: writes services/gateway/src/openapi/openapi.json from the code (and its copy in
 * dist, so a running build serves it without another build). With `--check`, writes
 * nothing and exits 1 when the committed file is not what the code produces.
 */
const text = renderOpenApiDocument();
if (process.argv.includes('--check')) {
  const committed = await readFile(OPENAPI_FILE, 'utf8').catch(() => '');
  if (committed !== text) {
    console.error('services/gateway/src/openapi/openapi.json is out of date: run npm run openapi');
    process.exit(1);
  }
  console.log('services/gateway/src/openapi/openapi.json is up to date');
} else {
  await Promise.all([writeFile(OPENAPI_FILE, text), writeFile(SERVED_OPENAPI_FILE, text)]);
  console.log(`wrote ${OPENAPI_FILE.pathname}`);
}
