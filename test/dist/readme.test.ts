// README.md's generated sections match the code: the command list is the built core's command
// table, the configuration reference is ts/config/schema.ts's implemented list. When this
// fails, run `npm run readme` (after `npm run build`) and commit README.md.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ROOT } from '../helpers/server';
import { commandTable } from '../../ts/native/core';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const gen: { render(current?: string): string } = require('../../scripts/gen-readme.cjs');

const t = suite('readme');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

t('every command of the table is in the README list, and nothing else', () => {
  const section = README.slice(README.indexOf('<!-- BEGIN GENERATED: commands'), README.indexOf('<!-- END GENERATED: commands'));
  const listed = [...section.matchAll(/^\| `([A-Z0-9_-]+)` \|/gm)].map((m) => (m[1] as string).toLowerCase()).sort();
  const table = commandTable().map((c) => c.name).sort();
  assert.equal(listed, table, 'README command list differs from the command table: run `npm run readme`');
});

t('the generated sections are exactly what npm run readme writes', () => {
  const fresh = gen.render(README);
  if (fresh !== README) {
    const a = README.split('\n');
    const b = fresh.split('\n');
    const i = a.findIndex((line, n) => line !== b[n]);
    assert.unreachable(`README.md is stale at line ${i + 1}: ${JSON.stringify(a[i])} vs ${JSON.stringify(b[i])}: run \`npm run readme\``);
  }
});

t.run();
