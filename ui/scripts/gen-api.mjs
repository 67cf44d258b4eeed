// Generates src/api/schema.gen.ts, the API's TypeScript types, from the server's OpenAPI
// document (`kairos openapi`).
//
//   npm run gen:api     writes ../target/openapi.json and src/api/schema.gen.ts
//   npm run check:api   regenerates into a temp directory and fails if schema.gen.ts differs
//
// The kairos binary is target/debug/kairos unless KAIROS_BIN names another one (a path relative
// to the repository's root, or absolute).

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';

const ui = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = resolve(ui, '..');
const target = join(root, 'target');
const output = join(ui, 'src', 'api', 'schema.gen.ts');
const exe = process.platform === 'win32' ? '.exe' : '';
// Relative to the repository's root, as for the e2e tests (tests/ui/harness.mjs).
const bin = resolve(root, process.env.KAIROS_BIN || `target/debug/kairos${exe}`);
const check = process.argv.includes('--check');

const HEADER = `// GENERATED FILE, do not edit: \`npm run gen:api\` writes it from the server's OpenAPI
// document (\`kairos openapi\`) with openapi-typescript; \`npm run check:api\` checks it is current.
// Hand-written names for these types are in types.ts.

`;

function fail(message) {
  console.error(`gen-api: ${message}`);
  process.exit(1);
}

/** The OpenAPI document from `kairos openapi`, written to `dir` (for other tools and diffing). */
function openapiDocument(dir) {
  const run = spawnSync(bin, ['openapi'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.error) {
    fail(`cannot run ${bin} (${run.error.message}); build it with \`cargo build\` or set KAIROS_BIN`);
  }
  if (run.status !== 0) fail(`${bin} openapi exited with ${run.status}:\n${run.stderr}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'openapi.json');
  writeFileSync(file, run.stdout);
  return file;
}

async function generate(file) {
  const ast = await openapiTS(pathToFileURL(file), {
    // The monitor action has no fields: `{type: object}` alone, which would otherwise become
    // Record<string, never> and make `{kind: 'monitor'}` impossible.
    emptyObjectsUnknown: true,
    // An array with minItems = maxItems (e.g. a [lowest, highest] pair) becomes a tuple.
    arrayLength: true,
  });
  return HEADER + astToString(ast);
}

const normalize = (text) => text.replace(/\r\n/g, '\n');

if (check) {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-api-'));
  const fresh = await generate(openapiDocument(dir));
  const freshFile = join(dir, 'schema.gen.ts');
  writeFileSync(freshFile, fresh);
  let current = '';
  try {
    current = readFileSync(output, 'utf8');
  } catch {
    // missing: differs
  }
  if (normalize(current) !== normalize(fresh)) {
    fail(
      `src/api/schema.gen.ts is out of date with \`${bin} openapi\`: run \`npm run gen:api\`\n` +
        `(the current generation is ${freshFile})`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
  console.log('gen-api: src/api/schema.gen.ts is up to date');
} else {
  const fresh = await generate(openapiDocument(target));
  writeFileSync(output, fresh);
  console.log(`gen-api: wrote ${output} from ${join(target, 'openapi.json')}`);
}
